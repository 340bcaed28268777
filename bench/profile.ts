/**
 * Where the time goes: ONNX Runtime's own profiler on one of the benchmark graphs, summarised per
 * ONNX op type (and the top nodes). Development tool for the levers of issue 6.
 *
 *   npx tsx bench/profile.ts unet-sample|unet-train [--runs N] [--threads N] [--level all|extended|basic|disabled]
 *                            [--no-passes] [--no-remat] [--no-nchwc] [--top K] [--callers] [--dump model.onnx]
 *                            [--batch B]   (unet-sample's batch, default 256)
 *
 * Uses onnxruntime-node directly (the engine's backend does not expose profiling), on the graph
 * and with the session settings the engine uses by default (passes, remat, no memory patterns, no spinning).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { NDArray, Philox, getBackend, grad, toOnnx, trace, type Graph, type Value } from '../src/engine/index.ts';
import { optimizeGraph, rematerialize } from '../src/engine/optimize/index.ts';
import { createModel } from '../src/models/registry.ts';
import { withParams } from '../src/nn/module.ts';
import { modelSampleShape, traceDenoiser } from '../src/pipelines/denoiser.ts';
import { alphasFromBetas, linearBetas } from '../src/schedules/index.ts';
import { DiffusionObjective, diffusionLoss } from '../src/training/objectives.ts';

const args = process.argv.slice(2);
const opt = (f: string, d: string): string => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : d;
};
const workload = args[0] ?? 'unet-sample';
const runs = Number(opt('--runs', '3'));
const threads = Number(opt('--threads', '2'));
const top = Number(opt('--top', '15'));
const level = opt('--level', 'all') as 'all';

function buildGraph(): { graph: Graph; feeds: Record<string, NDArray> } {
  const model = createModel('unet-s');
  const params = model.initParams(new Philox(0));
  const rng = new Philox(1);
  if (workload === 'unet-sample') {
    const B = Number(opt('--batch', '256'));
    return {
      graph: traceDenoiser(model, params, modelSampleShape(model), B),
      feeds: { sample: rng.normal([B, 1, 28, 28]), timestep: new NDArray([B], new Float32Array(B).fill(500)) },
    };
  }
  // the gradient part of the train step (loss + grads of every parameter; AdamW is cheap elementwise work)
  const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
  const obj = new DiffusionObjective(alphasCumprod);
  const names = Object.keys(params);
  const shape = [64, 1, 28, 28];
  const specs = obj.batchSpecs(shape);
  const graph = trace(
    (...xs: Value[]) => {
      const p = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
      const b = Object.fromEntries(specs.map((s, i) => [s.name, xs[names.length + i]]));
      const loss = withParams(model, p, () => diffusionLoss(model.forward(b.x_t, b.t), b, obj));
      return {
        loss,
        ...Object.fromEntries(
          grad(
            loss,
            names.map((n) => p[n]),
          ).map((d, i) => [`g.${names[i]}`, d]),
        ),
      };
    },
    [...names.map((n) => ({ name: `p.${n}`, shape: params[n].shape })), ...specs],
  );
  const batch = obj.makeBatch(
    rng.uniform(shape).map((u) => 2 * u - 1),
    rng,
  );
  return { graph, feeds: { ...Object.fromEntries(names.map((n) => [`p.${n}`, params[n]])), ...batch } };
}

const built = buildGraph();
const feeds = built.feeds;
// as compile() does by default: clean-up passes, then (training graphs) remat 'elementwise'
let graph = args.includes('--no-passes') ? built.graph : optimizeGraph(built.graph).graph;
if (!args.includes('--no-remat')) graph = rematerialize(graph).graph;
const nchwcBlock = args.includes('--no-nchwc') ? 0 : ((await (await getBackend()).nchwcBlockSize?.()) ?? 0);
const bytes = toOnnx(graph, { target: { nchwcBlock } });
if (args.includes('--dump')) writeFileSync(opt('--dump', 'model.onnx'), bytes);
const prefix = `/tmp/diffuse_profile_${process.pid}`;
const session = await ort.InferenceSession.create(bytes, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: level,
  enableProfiling: true,
  profileFilePrefix: prefix,
  enableMemPattern: false,
  extra: {
    'session.intra_op.allow_spinning': '0',
    'optimization.disable_specified_optimizers': 'CommonSubexpressionElimination',
  },
});
const ortFeeds = Object.fromEntries(
  Object.entries(feeds).map(([k, a]) => [k, new ort.Tensor('float32', a.data, [...a.shape])]),
);
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await session.run(ortFeeds);
  console.error(`run ${i}: ${(performance.now() - t0).toFixed(1)} ms`);
}
const file = (session as unknown as { handler: { endProfiling(): string } }).handler.endProfiling?.() as unknown as
  | string
  | undefined;
await session.release();

interface Ev {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; thread_scheduling_stats?: unknown };
}
// the profiler writes <prefix>_<date>.json; find it
const { readdirSync } = await import('node:fs');
const path =
  typeof file === 'string' && file
    ? file
    : readdirSync('/tmp')
        .filter((f) => f.startsWith(`diffuse_profile_${process.pid}`))
        .map((f) => `/tmp/${f}`)[0];
const events = JSON.parse(readFileSync(path, 'utf8')) as Ev[];
rmSync(path);
const nodeEvents = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
// skip the first (warm-up) run: split by the model_run events
const runsEv = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const perRun =
  (runsEv.length ? runsEv.slice(1).reduce((a, e) => a + e.dur, 0) / Math.max(1, runsEv.length - 1) : 0) / 1000;
const byOp = new Map<string, { us: number; n: number }>();
const byNode = new Map<string, { us: number; op: string }>();
const counted = runs > 1 ? Math.floor((nodeEvents.length * (runs - 1)) / runs) : nodeEvents.length;
for (const e of nodeEvents.slice(nodeEvents.length - counted)) {
  const op = e.args?.op_name ?? '?';
  const r = byOp.get(op) ?? { us: 0, n: 0 };
  r.us += e.dur;
  r.n += 1;
  byOp.set(op, r);
  const nm = e.name.replace(/_kernel_time$/, '');
  const q = byNode.get(nm) ?? { us: 0, op };
  q.us += e.dur;
  byNode.set(nm, q);
}
const k = Math.max(1, runs - 1);
const k2 = k;
const total = [...byOp.values()].reduce((a, r) => a + r.us, 0) / k / 1000;
console.log(
  `${workload}: ${graph.nodes.length} traced nodes, model ${(bytes.length / 1e6).toFixed(1)} MB; mean model_run ${perRun.toFixed(1)} ms, kernel time ${total.toFixed(1)} ms (level ${level}, ${threads} threads)`,
);
console.log('| ONNX op | ms per run | % | nodes |');
console.log('|---|---|---|---|');
for (const [op, r] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
  console.log(
    `| ${op} | ${(r.us / k / 1000).toFixed(1)} | ${((r.us / k / 1000 / total) * 100).toFixed(1)} | ${r.n / k} |`,
  );
}
// by traced op and ONNX op: e.g. conv2d_weight_grad's one-hot Conv vs its MatMul
const byTraced = new Map<string, number>();
for (const [n, r] of byNode) {
  const m = n.match(/^([a-z0-9_]+?)_\d+(?:_\d+)?/);
  const k = `${m ? m[1] : n} / ${r.op}`;
  byTraced.set(k, (byTraced.get(k) ?? 0) + r.us);
}
console.log('\n| traced op / ONNX op | ms per run |\n|---|---|');
for (const [k, us] of [...byTraced].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`| ${k} | ${(us / k2 / 1000).toFixed(1)} |`);
console.log(`\ntop ${top} nodes:`);
// traced node of an ONNX node name `<op>_<id>[_<k>]`, for its caller
const tracedById = new Map(graph.nodes.map((n) => [n.id, n]));
const callerOf = (name: string): string => {
  const m = name.match(/^[a-z0-9_]+?_(\d+)(?:_\d+)?(?:\/|$)/);
  const node = m ? tracedById.get(Number(m[1])) : undefined;
  return node
    ? ` [${node.op} ${node.outputs[0]?.shape.join('x') ?? ''} at ${node.caller.replace(/^.*\/src\//, 'src/')}]`
    : '';
};
for (const [n, r] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, top))
  console.log(`  ${n} (${r.op}): ${(r.us / k / 1000).toFixed(2)} ms${args.includes('--callers') ? callerOf(n) : ''}`);
