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
import {
  NDArray, Value, compile, conv2d, conv2dInputGrad, conv2dWeightGrad, convGeometry, defaultThreads, grad, matmul, trace,
  type Feeds, type InputSpec, type TraceOutput,
} from '../src/engine/index.ts';

export interface Stats { median: number; min: number; max: number; reps: number }

export interface BenchRow {
  name: string;
  /** Floating-point operations of one call (multiply-add = 2). */
  flops: number;
  ours: Stats;
  torch?: Stats;
}

export interface FormulationRow { group: string; name: string; chosen: boolean; ours: Stats }

export interface EngineBenchResult {
  threads: number;
  rows: BenchRow[];
  formulations: FormulationRow[];
  /** Why the PyTorch column is empty, when it is. */
  torchNote?: string;
  torchVersion?: string;
}

export interface EngineBenchOptions { reps?: number; warmup?: number; threads?: number; formulations?: boolean; log?: (s: string) => void }

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
async function oursTimer(fn: (...xs: Value[]) => TraceOutput, specs: InputSpec[], feeds: Feeds, threads: number): Promise<Timer> {
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

async function timeGraph(fn: (...xs: Value[]) => TraceOutput, specs: InputSpec[], feeds: Feeds, reps: number, warmup: number, threads: number): Promise<Stats> {
  const t = await oursTimer(fn, specs, feeds, threads);
  await t(warmup);
  return stats(await t(reps));
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
    const proc = spawn(PYTHON, [script, '--threads', String(threads), '--serve']);
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += String(d); });
    const twin = new TorchTwin(proc);
    createInterface({ input: proc.stdout }).on('line', (l) => {
      const w = twin.waiting.shift();
      if (w) w(l); else twin.lines.push(l);
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

  close(): void { this.proc.stdin.end(); }
}

/** Warm both up, then alternate one timed call of each, so both see the same machine load. */
async function interleaved(ours: Timer, torch: Timer | null, reps: number, warmup: number): Promise<[Stats, Stats | undefined]> {
  await ours(warmup);
  if (torch) await torch(warmup);
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i < reps; i++) {
    a.push(...(await ours(1)));
    if (torch) b.push(...(await torch(1)));
  }
  return [stats(a), torch ? stats(b) : undefined];
}

const N = 32, C = 64, HW = 32;
const CONV_FLOPS = 2 * N * C * HW * HW * C * 9;

/** The engine suite: the PyTorch-comparison table and the formulation table. */
export async function engineBench(opts: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  const reps = opts.reps ?? 10, warmup = opts.warmup ?? 2, threads = opts.threads ?? defaultThreads();
  const log = opts.log ?? (() => {});
  const a = fill([1024, 1024], 1), b = fill([1024, 1024], 2);
  const x = fill([N, C, HW, HW], 3), w = fill([C, C, 3, 3], 4, 0.1), g = fill([N, C, HW, HW], 5);
  const xs = { name: 'x', shape: [N, C, HW, HW] }, ws = { name: 'w', shape: [C, C, 3, 3] }, gs = { name: 'g', shape: [N, C, HW, HW] };
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
    await row('matmul 1024^3', 2 * 1024 ** 3, await oursTimer((p, q) => matmul(p, q), [{ name: 'a', shape: [1024, 1024] }, { name: 'b', shape: [1024, 1024] }], { a, b }, threads));
    await row('conv2d 3x3 fwd', CONV_FLOPS, await oursTimer((p, q) => conv2d(p, q, null, { padding: 1 }), [xs, ws], { x, w }, threads));
    await row('conv2d 3x3 fwd+dx+dW', 3 * CONV_FLOPS, await oursTimer((p, q, cot) => {
      const y = conv2d(p, q, null, { padding: 1 });
      return [y, ...grad(y, [p, q], cot)];
    }, [xs, ws, gs], { x, w, g }, threads));
  } finally {
    if (typeof twin !== 'string') twin.close();
  }

  const formulations: FormulationRow[] = [];
  if (opts.formulations ?? true) {
    const f = async (group: string, name: string, chosen: boolean, fn: (...v: Value[]) => Value, specs: InputSpec[], feeds: Feeds): Promise<void> => {
      log(`${group}: ${name}`);
      formulations.push({ group, name, chosen, ours: await timeGraph(fn, specs, feeds, reps, warmup, threads) });
    };
    const dxGroup = 'conv 3x3 dx (32x64x32x32, s1 p1)';
    await f(dxGroup, "flipped_conv: Conv with flipped, transposed W", true, (gg, ww) => conv2dInputGrad(gg, ww, [HW, HW], geo, 'flipped_conv'), [gs, ws], { g, w });
    await f(dxGroup, 'conv_transpose: ConvTranspose', false, (gg, ww) => conv2dInputGrad(gg, ww, [HW, HW], geo, 'conv_transpose'), [gs, ws], { g, w });
    const dwGroup = 'conv 3x3 dW (32x64x32x32, s1 p1)';
    await f(dwGroup, 'im2col: one-hot depthwise Conv -> batched MatMul -> ReduceSum', true, (gg, xx) => conv2dWeightGrad(gg, xx, [3, 3], geo, 'im2col'), [gs, xs], { g, x });
    await f(dwGroup, 'shifted: 9 strided Slices, each MatMul -> ReduceSum', false, (gg, xx) => conv2dWeightGrad(gg, xx, [3, 3], geo, 'shifted'), [gs, xs], { g, x });
    await f(dwGroup, "valid_conv: one big Conv of x^T with g^T", false, (gg, xx) => conv2dWeightGrad(gg, xx, [3, 3], geo, 'valid_conv'), [gs, xs], { g, x });
  }
  return { threads, rows, formulations, torchNote, torchVersion: typeof twin === 'string' ? undefined : twin.version };
}

const ms = (s: Stats): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

/** Markdown tables of a result. */
export function engineMarkdown(r: EngineBenchResult): string {
  const lines: string[] = [];
  lines.push(`| workload | ours ms, median (min–max) | ours GFLOP/s | PyTorch ms, median (min–max) | PyTorch GFLOP/s | ours / PyTorch speed |`);
  lines.push('|---|---|---|---|---|---|');
  for (const row of r.rows) {
    const gf = (s: Stats): string => (row.flops / s.median / 1e6).toFixed(1);
    const tcol = row.torch ? `${ms(row.torch)} | ${gf(row.torch)} | ${(row.torch.median / row.ours.median).toFixed(2)}x` : 'skipped | – | –';
    lines.push(`| ${row.name} | ${ms(row.ours)} | ${gf(row.ours)} | ${tcol} |`);
  }
  if (r.torchNote) lines.push('', `PyTorch column skipped: ${r.torchNote}.`);
  else lines.push('', `PyTorch ${r.torchVersion}; ours and PyTorch alternate single calls, so both see the same machine load.`);
  if (r.formulations.length) {
    lines.push('', '| formulation (ours) | ms, median (min–max) | chosen by the rule |', '|---|---|---|');
    let group = '';
    for (const f of r.formulations) {
      if (f.group !== group) { group = f.group; lines.push(`| **${group}** | | |`); }
      lines.push(`| ${f.name} | ${ms(f.ours)} | ${f.chosen ? 'yes' : ''} |`);
    }
  }
  return lines.join('\n');
}
