/**
 * Our side of the benchmark workloads, one per child process (protocol: bench/workers.ts).
 *
 *   npx tsx bench/worker.ts <workload> [--threads N] [--variant JSON]
 *
 * Workloads (the same ones the PyTorch twins run):
 * - `unet-train`:  unet-s, batch 64 of 1x28x28: forward, eps-MSE loss (DDPM L_simple), backward, AdamW
 *                  (lr 1e-3, torch defaults) — one TrainStep.step (fused graph); one fixed batch.
 * - `unet-sample`: unet-s denoiser forward at batch 256 (denoiserFor: weights embedded) — one sampler step's model call
 *                  (weights perturbed so that none is exactly 0 or 1, like a trained model's; see trainedLike).
 *                  denoiserFor runs it as 8 micro-batches of 32 (its default for unet-s); the variant's
 *                  `microBatch: 'none'` runs the 256 at once, as the PyTorch twin does.
 * - `mlp-train`:   mlp-2d, batch 128 of 2-D points, same loss and optimizer.
 * - `mlp-sample`:  20 DDIM steps (eta 0, no clipping) over 10,000 points with mlp-2d through generate().
 *
 * The variant (JSON) selects levers: `session` (SessionOptions for every compile of the workload),
 * `engine` (op-formulation knobs).
 * The denoisers are `denoiserFor` itself, with the variant's session options.
 */
import { readFileSync } from 'node:fs';
import { type NDArray, Philox, setIm2colMaxBytes, type Executable, type SessionOptions } from '../src/engine/index.ts';
import { createModel } from '../src/models/registry.ts';
import { withParams } from '../src/nn/module.ts';
import { denoiserFor } from '../src/pipelines/denoiser.ts';
import { generate, type AsyncModelFn } from '../src/pipelines/generate.ts';
import type { DiffusionModel } from '../src/models/registry.ts';
import { DDIMScheduler } from '../src/samplers/ddim.ts';
import { alphasFromBetas, linearBetas } from '../src/schedules/index.ts';
import { DiffusionObjective, diffusionLoss } from '../src/training/objectives.ts';
import { TrainStep } from '../src/training/train_step.ts';
import { fusedDdimSampler } from './fused_sampler.ts';

export interface Variant {
  session?: SessionOptions;
  /** Engine knobs: the im2col limit of conv2d's weight gradient (MiB). */
  engine?: { im2colMaxMiB?: number };
  /** mlp-sample: DDIM steps per ONNX Runtime run (bench/fused_sampler.ts); default 1 = generate(). */
  fusedSteps?: number;
  /**
   * Train workloads: let each step write its new parameters and moments into the arrays the step
   * before it read (preallocated outputs, Executable.run's `outputs`), instead of fresh ones per step.
   * Bench-only: done by wrapping the TrainStep's compiled graph (TrainStep itself does not yet).
   */
  reuseOutputs?: boolean;
  /** Denoisers: items per ONNX Runtime run (denoiserFor's `microBatch`); 'none' = the whole batch at once. */
  microBatch?: number | 'none';
}

type Rep = () => Promise<void>;

/**
 * Peak RSS of this process in MiB: VmHWM of /proc/self/status, the high-water mark of the memory
 * this program mapped after exec. (getrusage's ru_maxrss would also count the parent's RSS at
 * fork time, which Linux carries over exec: a worker spawned by a large parent would report the
 * parent's size.) Falls back to ru_maxrss where /proc is missing.
 */
function peakRssMiB(): number {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** denoiserFor (src/pipelines/denoiser.ts) with the variant's session options and micro-batch. */
function denoiser(
  model: DiffusionModel,
  weights: Record<string, NDArray>,
  session: SessionOptions,
  v: Variant,
): AsyncModelFn {
  const microBatch = v.microBatch === 'none' ? Number.POSITIVE_INFINITY : v.microBatch;
  return denoiserFor(model, weights, { session, microBatch });
}

/**
 * Sampling workloads embed the weights in the graph, where the clean-up passes would fold the
 * untrained GroupNorm affine (weights exactly 1, biases 0) away — a gain no trained model gives. So
 * every weight gets a small deterministic perturbation (+ 0.01 u, u in [-0.5, 0.5)).
 */
function trainedLike(params: Record<string, NDArray>): Record<string, NDArray> {
  const rng = new Philox(99);
  return Object.fromEntries(
    Object.entries(params).map(([k, a]) => {
      const u = rng.uniform(a.shape);
      return [k, a.map((x, i) => x + 0.01 * (u.data[i] - 0.5))];
    }),
  );
}

/**
 * Lever reuse-outputs: the fused train-step graph writes new_p / new_m / new_v into the arrays that
 * the previous step read as p / m / v (TrainStep has replaced them by then, nothing else holds them).
 */
function recycleOutputs(ts: TrainStep): void {
  const exe = (ts as unknown as { fused: Executable | null }).fused;
  if (!exe) throw new Error('reuseOutputs: the train step has no fused graph');
  const run = exe.run.bind(exe);
  let spare: Record<string, NDArray> | undefined;
  exe.run = async (feeds, opts = {}) => {
    const r = await run(feeds, spare ? { ...opts, outputs: spare } : opts);
    const f = feeds as Record<string, NDArray>;
    spare = Object.fromEntries(
      ts.paramNames.flatMap((n) => [
        [`new_p.${n}`, f[`p.${n}`]],
        [`new_m.${n}`, f[`m.${n}`]],
        [`new_v.${n}`, f[`v.${n}`]],
      ]),
    );
    return r;
  };
}

async function setup(
  workload: string,
  session: SessionOptions,
  v: Variant,
): Promise<{ rep: Rep; info: Record<string, unknown> }> {
  const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
  const objective = new DiffusionObjective(alphasCumprod, { predictionType: 'epsilon' });
  const rng = new Philox(1);
  if (workload === 'unet-train' || workload === 'mlp-train') {
    const unet = workload === 'unet-train';
    const model = createModel(unet ? 'unet-s' : 'mlp-2d');
    const params = model.initParams(new Philox(0));
    const B = unet ? 64 : 128;
    const shape = unet ? [B, 1, 28, 28] : [B, 2];
    const x0 = rng.uniform(shape).map((u) => 2 * u - 1);
    const batch = objective.makeBatch(x0, rng);
    const ts = await TrainStep.create(
      (p, b) => withParams(model, p, () => diffusionLoss(model.forward(b.x_t, b.t), b, objective)),
      params,
      objective.batchSpecs(shape),
      { optimizer: { weightDecay: 0.01 }, session },
    );
    if (v.reuseOutputs) recycleOutputs(ts);
    return {
      rep: async () => {
        await ts.step(batch, 1e-3);
      },
      info: { batch: B, params: model.numParameters() },
    };
  }
  if (workload === 'unet-sample') {
    const model = createModel('unet-s');
    const params = trainedLike(model.initParams(new Philox(0)));
    const B = 256;
    const denoise = denoiser(model, params, session, v);
    const x = rng.normal([B, 1, 28, 28]);
    const t = new Float32Array(B).fill(500);
    await denoise(x, t); // compile outside the timed repetitions
    return {
      rep: async () => {
        await denoise(x, t);
      },
      info: { batch: B, params: model.numParameters() },
    };
  }
  if (workload === 'mlp-sample') {
    const model = createModel('mlp-2d');
    const params = trainedLike(model.initParams(new Philox(0)));
    const N = 10000,
      steps = 20;
    const scheduler = DDIMScheduler.fromConfig({
      num_train_timesteps: 1000,
      beta_schedule: 'linear',
      beta_start: 1e-4,
      beta_end: 0.02,
      clip_sample: false,
    });
    const noise = rng.normal([N, 2]);
    if (v.fusedSteps && v.fusedSteps > 1) {
      const run = await fusedDdimSampler(model, params, scheduler, N, steps, v.fusedSteps, session);
      return {
        rep: async () => {
          await run(noise);
        },
        info: { points: N, steps, fusedSteps: v.fusedSteps },
      };
    }
    const denoise = denoiser(model, params, session, v);
    await denoise(noise, new Float32Array(N).fill(999)); // compile outside the timed repetitions
    return {
      rep: async () => {
        await generate(denoise, scheduler, { shape: [N, 2], steps, generator: rng, initialNoise: noise });
      },
      info: { points: N, steps },
    };
  }
  throw new Error(`unknown workload '${workload}' (unet-train, unet-sample, mlp-train, mlp-sample)`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const workload = args[0];
  const opt = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const threads = Number(opt('--threads') ?? 2);
  const variant = JSON.parse(opt('--variant') ?? '{}') as Variant;
  if (variant.engine?.im2colMaxMiB !== undefined) setIm2colMaxBytes(variant.engine.im2colMaxMiB * 2 ** 20);
  const t0 = performance.now();
  const { rep, info } = await setup(workload, { intraOpNumThreads: threads, ...variant.session }, variant);
  const out = (o: unknown): void => {
    process.stdout.write(`${JSON.stringify(o)}\n`);
  };
  out({ ready: true, workload, threads, setup_ms: Math.round(performance.now() - t0), ...info });
  let buf = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    buf += chunk as string;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      try {
        if (line.startsWith('run ')) {
          const ms: number[] = [],
            cpuMs: number[] = [];
          for (let i = 0, n = Number(line.slice(4)); i < n; i++) {
            const s = performance.now(),
              c = process.cpuUsage();
            await rep();
            ms.push(performance.now() - s);
            const d = process.cpuUsage(c);
            cpuMs.push((d.user + d.system) / 1000);
          }
          out({ ms, cpu_ms: cpuMs });
        } else if (line === 'rss') {
          out({ max_rss_mb: peakRssMiB() });
        } else if (line) out({ error: `unknown command '${line}'` });
      } catch (e) {
        out({ error: (e as Error).stack ?? String(e) });
      }
    }
  }
}
await main();
