/**
 * Quality against cost: a sample metric for every (sampler, step count) pair, repeated over seeds, with
 * the number of model evaluations (NFE) each run really made — the table that answers "how few steps do
 * I need with which sampler". Each seed fixes the initial noise (shared by all samplers: common random
 * numbers) and the reference set; the spread over seeds gives each cell's standard error, and the metric
 * of real data against the reference (the baseline) shows the noise floor at this n.
 *
 * @example
 *   const metric = await createSampleMetric('mmd', loaded, { n: 2000 });
 *   const r = await runSweep(loaded, metric, { schedulers: ['ddpm', 'dpmsolver++'], steps: [10, 20, 1000], seeds: [0, 1, 2], n: 2000 });
 *   console.log(formatSweepTable(r));
 *   writeLinePlotPng('sweep.png', sweepPlotSpec(r, 'MMD vs NFE'));
 */
import { samplingScheduler, type LoadedModel } from '../../pipelines/sample_model.ts';
import { sampleCounted } from './counted_sampling.ts';
import type { SampleMetric } from './sample_quality.ts';
import { meanAndStandardError } from '../metrics/stats.ts';
import type { LinePlotSpec } from '../plots/line_plot.ts';

export interface SweepConfig {
  schedulers: string[];
  steps: number[];
  /** Explicit (scheduler, steps) cells instead of the product schedulers x steps. */
  pairs?: [string, number][];
  seeds: number[];
  n: number;
  eta?: number;
  /** Custom descending timesteps for every cell (each cell's steps is then their count). */
  timesteps?: readonly number[];
  /** Called after every run (progress lines). */
  onRun?: (info: {
    scheduler: string;
    steps: number;
    seed: number;
    nfe: number;
    value: number;
    seconds: number;
  }) => void;
}

/** One (sampler, steps) cell: the metric per seed and its mean with the standard error over seeds. */
export interface SweepCell {
  scheduler: string;
  steps: number;
  nfe: number;
  values: number[];
  mean: number;
  se: number | null;
  std: number | null;
  /** Means over seeds of the metric's extra numbers. */
  extra: Record<string, number>;
  /** Sampling seconds per run (mean). */
  seconds: number;
  /** Why runs failed (sampler error, or non-finite samples), if any did; their values are NaN. */
  errors?: string[];
}

export interface SweepResult {
  metric: { name: string; label?: string; description: string; lowerIsBetter: boolean };
  cells: SweepCell[];
  /** The metric of real data in place of samples, per seed, and its mean. */
  baseline: { values: number[]; mean: number; se: number | null; std: number | null };
  seeds: number[];
  n: number;
}

function meanExtras(list: (Record<string, number> | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = new Set(list.flatMap((e) => Object.keys(e ?? {})));
  for (const k of keys) {
    const v = list.map((e) => e?.[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (v.length) out[k] = v.reduce((a, b) => a + b, 0) / v.length;
  }
  return out;
}

/** The runs of one (scheduler, steps) cell so far, one entry per seed. */
interface CellRuns {
  nfe: number;
  values: number[];
  extras: (Record<string, number> | undefined)[];
  seconds: number[];
  errors: string[];
}

/**
 * One run of a cell at a seed, recorded in `cell`: sample with the counted sampler and score. A sampler that
 * fails (throws, returns non-finite samples, or makes another number of model calls than at earlier seeds)
 * fails its cell with NaN and an error line, not the sweep.
 */
async function runCell(
  m: LoadedModel,
  metric: SampleMetric,
  c: SweepConfig,
  cell: CellRuns,
  scheduler: string,
  steps: number,
  seed: number,
): Promise<{ value: number; nfe: number; seconds: number }> {
  let value = NaN,
    nfe = NaN,
    seconds = NaN;
  try {
    const r = await sampleCounted(m, { scheduler, steps, timesteps: c.timesteps, n: c.n, seed, eta: c.eta });
    nfe = r.nfe;
    seconds = r.seconds;
    if (!Number.isNaN(cell.nfe) && cell.nfe !== r.nfe)
      throw new Error(`made ${r.nfe} model calls at seed ${seed} but ${cell.nfe} before`);
    cell.nfe = r.nfe;
    let bad = 0;
    for (const v of r.samples.data) if (!Number.isFinite(v)) bad++;
    if (bad) throw new Error(`${bad} of ${r.samples.size} sample values are not finite`);
    const v = await metric.score(r.samples, seed, r.labels);
    value = v.value;
    cell.extras.push(v.extra);
  } catch (e) {
    cell.errors.push(`seed ${seed}: ${(e as Error).message}`);
  }
  cell.values.push(value);
  cell.seconds.push(seconds);
  return { value, nfe, seconds };
}

/** A cell's mean and standard error over seeds (NaN when any seed failed), mean extras and mean seconds. */
function summarizeCell(scheduler: string, steps: number, r: CellRuns): SweepCell {
  const s = meanAndStandardError(r.values);
  const secs = r.seconds.filter(Number.isFinite);
  return {
    scheduler,
    steps,
    nfe: r.nfe,
    values: r.values,
    mean: s.mean,
    se: Number.isFinite(s.mean) ? s.se : null,
    std: Number.isFinite(s.mean) ? s.std : null,
    extra: meanExtras(r.extras),
    seconds: secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : NaN,
    ...(r.errors.length ? { errors: r.errors } : {}),
  };
}

/**
 * Run the sweep (see the module doc). Runs are ordered seed by seed, so a long sweep shows results early.
 * @example await runSweep(loaded, metric, { schedulers: ['heun'], steps: [5, 10], seeds: [0], n: 500 })
 */
export async function runSweep(m: LoadedModel, metric: SampleMetric, c: SweepConfig): Promise<SweepResult> {
  const pairs: [string, number][] =
    c.pairs ?? c.schedulers.flatMap((s) => c.steps.map((k): [string, number] => [s, k]));
  if (!pairs.length)
    throw new Error(
      '--sweep: no (scheduler, steps) cells (e.g. --sweep scheduler=ddpm,ddim,dpmsolver++ --steps 5,10,20)',
    );
  if (!c.seeds.length) throw new Error('--seeds: need at least one seed');
  for (const [name] of pairs) samplingScheduler(name, m.schedulerConfig); // unknown names are usage errors, before any work
  const runs = new Map<string, CellRuns>();
  const key = (s: string, k: number) => `${s}\u0000${k}`;
  const baseline: number[] = [];
  for (const seed of c.seeds) {
    baseline.push((await metric.baseline(seed)).value);
    for (const [scheduler, steps] of pairs) {
      const cell = runs.get(key(scheduler, steps)) ?? { nfe: NaN, values: [], extras: [], seconds: [], errors: [] };
      runs.set(key(scheduler, steps), cell);
      const { value, nfe, seconds } = await runCell(m, metric, c, cell, scheduler, steps, seed);
      c.onRun?.({ scheduler, steps, seed, nfe, value, seconds });
    }
  }
  const cells = pairs.map(([scheduler, steps]) => summarizeCell(scheduler, steps, runs.get(key(scheduler, steps))!));
  const b = meanAndStandardError(baseline);
  return {
    metric: {
      name: metric.name,
      label: metric.label,
      description: metric.description,
      lowerIsBetter: metric.lowerIsBetter,
    },
    cells,
    baseline: { values: baseline, mean: b.mean, se: b.se, std: b.std },
    seeds: c.seeds,
    n: c.n,
  };
}

function fmt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
}

/**
 * A plain-text table: sampler, steps, NFE, mean +- standard error (over seeds), seconds per run.
 * @example console.log(formatSweepTable(result))
 */
export function formatSweepTable(r: SweepResult): string {
  const head = ['scheduler', 'steps', 'NFE', `${r.metric.name} (mean)`, 'std err', 'sd', 's/run'];
  const rows = r.cells.map((c) => [
    c.scheduler,
    String(c.steps),
    Number.isNaN(c.nfe) ? '-' : String(c.nfe),
    c.errors ? `failed (${c.errors.length}/${c.values.length})` : fmt(c.mean),
    fmt(c.se),
    fmt(c.std),
    Number.isFinite(c.seconds) ? c.seconds.toFixed(2) : '-',
  ]);
  rows.push(['data vs data', '-', '-', fmt(r.baseline.mean), fmt(r.baseline.se), fmt(r.baseline.std), '-']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((s, i) => (i < 1 ? s.padEnd(w[i]) : s.padStart(w[i]))).join('  ');
  const notes = r.cells
    .filter((c) => c.errors)
    .map(
      (c) =>
        `${c.scheduler} ${c.steps} steps failed: ${c.errors![0]}${c.errors!.length > 1 ? ` (and ${c.errors!.length - 1} more seeds)` : ''}`,
    );
  return [
    line(head),
    line(w.map((k) => '-'.repeat(k))),
    ...rows.map(line),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/**
 * The sweep as a line-plot spec: metric against NFE (log axis), one line per sampler with +-1 standard
 * error bars, the data-vs-data baseline dashed.
 * @example writeLinePlotPng('sweep.png', sweepPlotSpec(r, 'mlp-2d on 8gaussians'))
 */
export function sweepPlotSpec(r: SweepResult, title: string, yLabel?: string): LinePlotSpec {
  const names = [...new Set(r.cells.map((c) => c.scheduler))];
  // Distances whose ideal is 0 span decades (few-step samplers are far off): symmetric-log y axis, linear
  // within the data-vs-data spread (the metric's resolution at this n).
  const ses = r.cells
    .map((c) => c.se)
    .filter((v): v is number => v !== null && v > 0)
    .sort((a, b) => a - b);
  const resolution =
    r.baseline.std && r.baseline.std > 0 ? r.baseline.std : ses.length ? ses[Math.floor(ses.length / 2)] : undefined;
  const symlog = r.metric.lowerIsBetter && resolution !== undefined;
  return {
    title,
    xLabel: 'NFE (model evaluations, log scale)',
    logX: true,
    yScale: symlog ? 'symlog' : 'linear',
    linThreshold: symlog ? resolution : undefined,
    yLabel:
      yLabel ??
      `${r.metric.label ?? r.metric.name} (mean +- s.e. over ${r.seeds.length} seeds, n = ${r.n}${symlog ? `; symlog axis, linear within +-${resolution!.toPrecision(2)}` : ''})`,
    series: names.map((s) => ({
      name: s,
      points: r.cells.filter((c) => c.scheduler === s).map((c) => ({ x: c.nfe, y: c.mean, se: c.se })),
    })),
    references: Number.isFinite(r.baseline.mean) ? [{ name: 'data vs data', y: r.baseline.mean }] : [],
  };
}
