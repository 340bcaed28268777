/**
 * Engine micro-benchmark: matmul 1024^3, conv2d 3x3 (32x64x32x32, stride 1, pad 1) forward, and
 * forward + dx + dW through our autodiff, each beside its PyTorch twin (bench/engine_torch.py, run
 * with /usr/bin/python3 and the same thread count). A second table times the alternative
 * formulations of the conv gradients and other ops (ours only), which is how their per-shape rules
 * were chosen.
 *
 * Run: `npm run bench` (all suites) or `npx tsx bench/run.ts engine`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torchThreadEnv } from './workers.ts';
import {
  NDArray,
  NORM_FORMULATION,
  UPSAMPLE_FORMULATION,
  type Value,
  chooseWeightGradFormulation,
  compile,
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  convGeometry,
  defaultThreads,
  grad,
  groupNorm,
  layerNorm,
  matmul,
  trace,
  upsampleNearest2d,
  type Conv2dOptions,
  type Feeds,
  type InputSpec,
  type TraceOutput,
  type WeightGradFormulation,
} from '../src/engine/index.ts';

export interface Stats {
  median: number;
  min: number;
  max: number;
  reps: number;
}

export interface BenchRow {
  name: string;
  /** Floating-point operations of one call (multiply-add = 2). */
  flops: number;
  ours: Stats;
  torch?: Stats;
}

export interface FormulationRow {
  group: string;
  name: string;
  chosen: boolean;
  ours: Stats;
}

export interface EngineBenchResult {
  threads: number;
  rows: BenchRow[];
  formulations: FormulationRow[];
  /** Why the PyTorch column is empty, when it is. */
  torchNote?: string;
  torchVersion?: string;
}

export interface EngineBenchOptions {
  reps?: number;
  warmup?: number;
  threads?: number;
  formulations?: boolean;
  log?: (s: string) => void;
}

const PYTHON = '/usr/bin/python3';

/** Deterministic values in [-scale/2, scale/2) (benchmark data only). */
function fill(shape: number[], seed: number, scale = 1): NDArray {
  const a = new NDArray(shape);
  let s = seed >>> 0;
  for (let i = 0; i < a.size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a.data[i] = ((s >>> 8) / 16777216 - 0.5) * scale;
  }
  return a;
}

export function stats(ts: number[]): Stats {
  const s = [...ts].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], reps: s.length };
}

type Timer = (n: number) => Promise<number[]>;

/** A compiled graph as a timer: n timed calls. */
async function oursTimer(
  fn: (...xs: Value[]) => TraceOutput,
  specs: InputSpec[],
  feeds: Feeds,
  threads: number,
): Promise<Timer> {
  const f = await compile(trace(fn, specs), { intraOpNumThreads: threads });
  return async (n) => {
    const ts: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await f.run(feeds);
      ts.push(performance.now() - t0);
    }
    return ts;
  };
}

/** bench/engine_torch.py in --serve mode: runs a named case n times on request. */
class TorchTwin {
  private lines: string[] = [];
  private waiting: ((s: string) => void)[] = [];
  version = '';
  private constructor(private proc: ChildProcessWithoutNullStreams) {}

  /** Start the twin, or return why it cannot run. */
  static async start(threads: number): Promise<TorchTwin | string> {
    if (!existsSync(PYTHON)) return `${PYTHON} not found`;
    const script = fileURLToPath(new URL('./engine_torch.py', import.meta.url));
    const proc = spawn(PYTHON, [script, '--threads', String(threads), '--serve'], {
      env: { ...process.env, ...torchThreadEnv(threads) },
    });
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const twin = new TorchTwin(proc);
    createInterface({ input: proc.stdout }).on('line', (l) => {
      const w = twin.waiting.shift();
      if (w) w(l);
      else twin.lines.push(l);
    });
    const exited = new Promise<string>((res) => {
      proc.on('error', (e) => res(`could not start: ${e.message}`));
      proc.on('close', (code) => res(`exited with code ${code}`));
    });
    const first = await Promise.race([twin.next(), exited]);
    if (!first.startsWith('{')) {
      if (/No module named 'torch'/.test(stderr)) return `torch is not installed for ${PYTHON}`;
      return `${PYTHON} bench/engine_torch.py ${first}: ${stderr.trim().split('\n').pop() ?? ''}`;
    }
    const info = JSON.parse(first) as { torch: string; threads: number };
    twin.version = `${info.torch} (${info.threads} threads)`;
    return twin;
  }

  private next(): Promise<string> {
    const l = this.lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((res) => this.waiting.push(res));
  }

  timer(name: string): Timer {
    return async (n) => {
      if (n === 0) return [];
      this.proc.stdin.write(`${name}\t${n}\n`);
      return JSON.parse(await this.next()) as number[];
    };
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/** Warm both up, then alternate one timed call of each, so both see the same machine load. */
async function interleaved(
  ours: Timer,
  torch: Timer | null,
  reps: number,
  warmup: number,
): Promise<[Stats, Stats | undefined]> {
  await ours(warmup);
  if (torch) await torch(warmup);
  const a: number[] = [],
    b: number[] = [];
  for (let i = 0; i < reps; i++) {
    a.push(...(await ours(1)));
    if (torch) b.push(...(await torch(1)));
  }
  return [stats(a), torch ? stats(b) : undefined];
}

const N = 32,
  C = 64,
  HW = 32;
const CONV_FLOPS = 2 * N * C * HW * HW * C * 9;

/** The engine suite: the PyTorch-comparison table and the formulation table. */
export async function engineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const reps = opts.reps ?? 10,
    warmup = opts.warmup ?? 2,
    threads = opts.threads ?? defaultThreads();
  const log = opts.log ?? (() => {});
  const a = fill([1024, 1024], 1),
    b = fill([1024, 1024], 2);
  const x = fill([N, C, HW, HW], 3),
    w = fill([C, C, 3, 3], 4, 0.1),
    g = fill([N, C, HW, HW], 5);
  const xs = { name: 'x', shape: [N, C, HW, HW] },
    ws = { name: 'w', shape: [C, C, 3, 3] },
    gs = { name: 'g', shape: [N, C, HW, HW] };
  const geo = convGeometry('conv2d', { padding: 1 }, [3, 3]);

  log('starting the PyTorch twin');
  const twin = await TorchTwin.start(threads);
  const torchNote = typeof twin === 'string' ? twin : undefined;
  const torchFor = (name: string): Timer | null => (typeof twin === 'string' ? null : twin.timer(name));
  const rows: BenchRow[] = [];
  const row = async (name: string, flops: number, ours: Timer): Promise<void> => {
    log(name);
    const [o, t] = await interleaved(ours, torchFor(name), reps, warmup);
    rows.push({ name, flops, ours: o, torch: t });
  };
  try {
    await row(
      'matmul 1024^3',
      2 * 1024 ** 3,
      await oursTimer(
        (p, q) => matmul(p, q),
        [
          { name: 'a', shape: [1024, 1024] },
          { name: 'b', shape: [1024, 1024] },
        ],
        { a, b },
        threads,
      ),
    );
    await row(
      'conv2d 3x3 fwd',
      CONV_FLOPS,
      await oursTimer((p, q) => conv2d(p, q, null, { padding: 1 }), [xs, ws], { x, w }, threads),
    );
    await row(
      'conv2d 3x3 fwd+dx+dW',
      3 * CONV_FLOPS,
      await oursTimer(
        (p, q, cot) => {
          const y = conv2d(p, q, null, { padding: 1 });
          return [y, ...grad(y, [p, q], cot)];
        },
        [xs, ws, gs],
        { x, w, g },
        threads,
      ),
    );
  } finally {
    if (typeof twin !== 'string') twin.close();
  }

  const formulations: FormulationRow[] = [];
  if (opts.formulations ?? true) {
    interface Entry {
      name: string;
      chosen: boolean;
      fn: (...v: Value[]) => TraceOutput;
      specs: InputSpec[];
      feeds: Feeds;
    }
    /** Compile a group's alternatives, then alternate single timed calls of each (same load for all). */
    const group = async (title: string, entries: Entry[]): Promise<void> => {
      log(title);
      const timers = await Promise.all(entries.map((e) => oursTimer(e.fn, e.specs, e.feeds, threads)));
      for (const t of timers) await t(warmup);
      const times: number[][] = entries.map(() => []);
      for (let i = 0; i < reps; i++) for (let k = 0; k < timers.length; k++) times[k].push(...(await timers[k](1)));
      entries.forEach((e, k) =>
        formulations.push({ group: title, name: e.name, chosen: e.chosen, ours: stats(times[k]) }),
      );
    };
    const spec = (name: string, shape: number[]): InputSpec => ({ name, shape });
    const fwdBwd =
      (f: (...v: Value[]) => Value, nDiff: number) =>
      (...v: Value[]): Value[] => {
        const y = f(...v);
        return [y, ...grad(y, v.slice(0, nDiff), v[v.length - 1])];
      };

    await group('conv 3x3 dx, 32x64x32x32 s1 p1', [
      {
        name: 'flipped_conv: Conv with flipped, transposed W',
        chosen: true,
        fn: (gg, ww) => conv2dInputGrad(gg, ww, [HW, HW], geo, 'flipped_conv'),
        specs: [gs, ws],
        feeds: { g, w },
      },
      {
        name: 'conv_transpose: ConvTranspose',
        chosen: false,
        fn: (gg, ww) => conv2dInputGrad(gg, ww, [HW, HW], geo, 'conv_transpose'),
        specs: [gs, ws],
        feeds: { g, w },
      },
    ]);
    const dwGroup = async (
      title: string,
      xShape: number[],
      co: number,
      k: number,
      o: Conv2dOptions,
      withValid: boolean,
    ): Promise<void> => {
      const gm = convGeometry('conv2d', o, [k, k]);
      const ho = Math.floor((xShape[2] + gm.pads[0] + gm.pads[2] - k) / gm.strides[0]) + 1;
      const gShape = [xShape[0], co, ho, ho];
      const xx = fill(xShape, 11),
        gg = fill(gShape, 12);
      const e = (f: WeightGradFormulation, name: string): Entry => ({
        name,
        chosen: f === chooseWeightGradFormulation(xShape[0], xShape[1], [k, k], [ho, ho]),
        fn: (a, b) => conv2dWeightGrad(a, b, [k, k], gm, f),
        specs: [spec('g', gShape), spec('x', xShape)],
        feeds: { g: gg, x: xx },
      });
      await group(title, [
        e('im2col', 'im2col: one-hot depthwise Conv -> batched MatMul (col @ g^T) -> ReduceSum'),
        e('shifted', `shifted: ${k * k} strided Slices, each MatMul -> ReduceSum`),
        ...(withValid ? [e('valid_conv', 'valid_conv: one big Conv of x^T with kernel g^T')] : []),
      ]);
    };
    await dwGroup('conv 3x3 dW, 32x64x32x32 s1 p1', [N, C, HW, HW], C, 3, { padding: 1 }, true);
    await dwGroup(
      'conv 3x3 dW, 32x64x32x32 s2 p1 (downsampling)',
      [N, C, HW, HW],
      C,
      3,
      { stride: 2, padding: 1 },
      true,
    );
    await dwGroup(
      'conv 3x3 dW, 64x1x28x28 -> 32 channels (first layer)',
      [64, 1, 28, 28],
      32,
      3,
      { padding: 1 },
      false,
    );

    const gx = fill([64, 64, 14, 14], 13),
      gw = fill([64], 14),
      gb = fill([64], 15),
      gg = fill([64, 64, 14, 14], 16);
    const gnSpecs = [spec('x', [64, 64, 14, 14]), spec('w', [64]), spec('b', [64]), spec('g', [64, 64, 14, 14])];
    await group(
      'groupNorm fwd+bwd, 64x64x14x14, 8 groups, affine',
      (['native', 'composite'] as const).map((f) => ({
        name:
          f === 'native'
            ? 'native: LayerNormalization on [N, 8, 1568] + hand VJP'
            : 'composite: mean/rsqrt primitives + autodiff',
        chosen: f === NORM_FORMULATION,
        fn: fwdBwd((x1, w1, b1) => groupNorm(x1, 8, w1, b1, 1e-5, f), 3),
        specs: gnSpecs,
        feeds: { x: gx, w: gw, b: gb, g: gg },
      })),
    );
    const lx = fill([64, 196, 64], 17),
      lg = fill([64, 196, 64], 18);
    const lnSpecs = [spec('x', [64, 196, 64]), spec('w', [64]), spec('b', [64]), spec('g', [64, 196, 64])];
    await group(
      'layerNorm fwd+bwd, 64x196x64 over the last axis, affine',
      (['native', 'composite'] as const).map((f) => ({
        name: f === 'native' ? 'native: LayerNormalization + hand VJP' : 'composite: mean/rsqrt primitives + autodiff',
        chosen: f === NORM_FORMULATION,
        fn: fwdBwd((x1, w1, b1) => layerNorm(x1, 64, w1, b1, 1e-5, f), 3),
        specs: lnSpecs,
        feeds: { x: lx, w: gw, b: gb, g: lg },
      })),
    );
    const ux = fill([64, 64, 14, 14], 19),
      ug = fill([64, 64, 28, 28], 20);
    await group(
      'upsampleNearest2d x2 fwd+bwd, 64x64x14x14',
      (['resize', 'expand'] as const).map((f) => ({
        name: f === 'resize' ? 'resize: ONNX Resize (nearest)' : 'expand: Reshape + Expand + Reshape',
        chosen: f === UPSAMPLE_FORMULATION,
        fn: fwdBwd((x1) => upsampleNearest2d(x1, 2, f), 1),
        specs: [spec('x', [64, 64, 14, 14]), spec('g', [64, 64, 28, 28])],
        feeds: { x: ux, g: ug },
      })),
    );
  }
  return { threads, rows, formulations, torchNote, torchVersion: typeof twin === 'string' ? undefined : twin.version };
}

const ms = (s: Stats): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

/** Markdown tables of a result. */
export function engineMarkdown(r: EngineBenchResult): string {
  const lines: string[] = [];
  lines.push(
    `| workload | ours ms, median (min–max) | ours GFLOP/s | PyTorch ms, median (min–max) | PyTorch GFLOP/s | ours / PyTorch speed |`,
  );
  lines.push('|---|---|---|---|---|---|');
  for (const row of r.rows) {
    const gf = (s: Stats): string => (row.flops / s.median / 1e6).toFixed(1);
    const tcol = row.torch
      ? `${ms(row.torch)} | ${gf(row.torch)} | ${(row.torch.median / row.ours.median).toFixed(2)}x`
      : 'skipped | – | –';
    lines.push(`| ${row.name} | ${ms(row.ours)} | ${gf(row.ours)} | ${tcol} |`);
  }
  if (r.torchNote) lines.push('', `PyTorch column skipped: ${r.torchNote}.`);
  else
    lines.push(
      '',
      `PyTorch ${r.torchVersion}; ours and PyTorch alternate single calls, so both see the same machine load.`,
    );
  if (r.formulations.length) {
    lines.push('', '| formulation (ours) | ms, median (min–max) | chosen by the rule |', '|---|---|---|');
    let group = '';
    for (const f of r.formulations) {
      if (f.group !== group) {
        group = f.group;
        lines.push(`| **${group}** | | |`);
      }
      lines.push(`| ${f.name} | ${ms(f.ours)} | ${f.chosen ? 'yes' : ''} |`);
    }
  }
  return lines.join('\n');
}
