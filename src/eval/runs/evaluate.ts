/**
 * `diffuse eval` as a library call: evaluate a trained model folder with one metric — a sample metric
 * (one sampler, or a sweep over samplers x step counts against NFE) or a likelihood — and return a
 * JSON-able report with the value, its standard error and every setting used.
 *
 * @example
 *   const report = await evaluateModelFolder('runs/8g', { metric: 'mmd', sweepSchedulers: ['ddpm', 'dpmsolver++'],
 *     steps: [10, 20, 1000], n: 2000, seed: 0, seeds: 3 });
 *   report.sweep!.cells[0].mean;
 */
import path from 'node:path';
import { loadTrainedModel, samplingScheduler, type LoadedModel } from '../../pipelines/sample_model.ts';
import { checkEtaSupported } from '../../pipelines/sample_checks.ts';
import { modelSampleShape } from '../../pipelines/denoiser.ts';
import { checkMemory, estimateModelResources, samplingBytes } from '../../models/resources.ts';
import { memoryLimit } from '../../models/memory_limit.ts';
import { SAMPLE_METRICS, createSampleMetric, defaultSampleMetric } from './sample_quality.ts';
import { LIKELIHOOD_METRICS, modelLikelihood } from './model_likelihood.ts';
import { runSweep, type SweepResult } from './sweep.ts';

import { EVAL_METRICS } from './metric_names.ts';

export { EVAL_METRICS };

export interface EvaluateOptions {
  /** Metric name (default: mmd for vector data, fid-mnist for 28x28 images). */
  metric?: string;
  /** Sampler of a single sample-metric evaluation (default dpmsolver++). */
  scheduler?: string;
  /** Schedulers of a sweep (sample metrics only); an entry 'name:K' is one cell with K steps instead of name x steps. */
  sweepSchedulers?: string[];
  /** Inference steps (one value, or several for a sweep; default [20]). */
  steps?: number[];
  /** Custom descending timesteps for every sampler instead of `steps` (e.g. a consistency model's [12, 8, 3, 0]). */
  timesteps?: number[];
  /** Samples / data points (default: 2000 for vector data, 500 for images; likelihoods 1000 / 64). */
  n?: number;
  /** First seed (default 0). */
  seed?: number;
  /** Repetitions with seeds seed, seed+1, ... (sample metrics; default 3). */
  seeds?: number;
  eta?: number;
  rtol?: number;
  atol?: number;
  probes?: number;
  batchSize?: number;
  vlbTimesteps?: 'all' | number;
  projections?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface EvalReport {
  tool: 'diffuse eval';
  model: string;
  data: string | null;
  metric: string;
  /** Short label (axis title). */
  label: string;
  description: string;
  unit: string | null;
  lower_is_better: boolean;
  /** The headline number: the mean over seeds (sample metrics; for a sweep, of the last cell) or over points (likelihoods). */
  value: number;
  standard_error: number | null;
  settings: Record<string, unknown>;
  /** Sample metrics: the same metric with real data in place of samples. */
  baseline?: SweepResult['baseline'];
  /** Sample metrics: one cell per (scheduler, steps). */
  sweep?: SweepResult['cells'];
  details?: Record<string, unknown>;
  seconds: number;
}

function checkSteps(steps: number[]): number[] {
  for (const s of steps)
    if (!(Number.isInteger(s) && s >= 1)) throw new Error(`--steps: ${s} is not a positive integer`);
  return steps;
}

/**
 * Evaluate a model folder (see the module doc).
 * @example await evaluateModelFolder('runs/8g', { metric: 'nll', n: 500 })
 */
export async function evaluateModelFolder(dir: string, o: EvaluateOptions = {}): Promise<EvalReport> {
  const m = loadTrainedModel(dir);
  return evaluateLoaded(m, dir, o);
}

/** As `evaluateModelFolder`, for an already loaded model. */
export async function evaluateLoaded(m: LoadedModel, dir: string, o: EvaluateOptions = {}): Promise<EvalReport> {
  const metric = o.metric ?? defaultSampleMetric(m);
  if (!(EVAL_METRICS as readonly string[]).includes(metric))
    throw new Error(`--metric ${metric}: unknown; allowed: ${EVAL_METRICS.join(', ')}`);
  const seed = o.seed ?? 0;
  if (!(Number.isInteger(seed) && seed >= 0)) throw new Error(`--seed: expected a non-negative integer, got ${seed}`);
  const run: EvalRun = {
    m,
    o,
    metric,
    seed,
    vector: modelSampleShape(m.model).length === 1,
    log: o.log ?? (() => {}),
    t0: performance.now(),
    base: { model: path.resolve(dir), data: m.info?.data.spec ?? null, tool: 'diffuse eval' as const },
  };
  if ((LIKELIHOOD_METRICS as readonly string[]).includes(metric)) return evaluateLikelihood(run);
  return evaluateSampleQuality(run);
}

/** What both kinds of evaluation share: the model, options, checked metric and seed, and the report's head. */
interface EvalRun {
  m: LoadedModel;
  o: EvaluateOptions;
  metric: string;
  seed: number;
  /** the model makes vectors (not images): larger default n */
  vector: boolean;
  log: (line: string) => void;
  t0: number;
  base: Pick<EvalReport, 'model' | 'data' | 'tool'>;
}

/** nll / vlb: the model's likelihood of n held-out data points (no sampler involved). */
async function evaluateLikelihood(run: EvalRun): Promise<EvalReport> {
  const { m, o, metric, seed } = run;
  if (o.sweepSchedulers)
    throw new Error(
      `--sweep: only sample metrics (${SAMPLE_METRICS.join(', ')}) depend on the sampler; '${metric}' does not`,
    );
  const n = o.n ?? (run.vector ? 1000 : 64);
  const settings = {
    metric,
    n,
    seed,
    rtol: o.rtol ?? 1e-5,
    atol: o.atol ?? 1e-5,
    probes: o.probes ?? null,
    batch_size: o.batchSize ?? null,
    vlb_timesteps: o.vlbTimesteps ?? null,
  };
  run.log(`eval: ${metric} on ${n} points ...`);
  const r = await modelLikelihood(m, metric, {
    n,
    seed,
    rtol: o.rtol,
    atol: o.atol,
    probes: o.probes,
    batchSize: o.batchSize,
    vlbTimesteps: o.vlbTimesteps,
  });
  return {
    ...run.base,
    metric,
    label: `${metric === 'nll' ? 'ODE NLL' : 'VLB'}, ${r.unit}`,
    description: r.description,
    unit: r.unit,
    lower_is_better: true,
    value: r.value,
    standard_error: r.standardError,
    settings,
    details: r.details,
    seconds: (performance.now() - run.t0) / 1000,
  };
}

/**
 * The (scheduler, steps) cells of a sweep: each --sweep entry 'scheduler' with every --steps count, or
 * 'scheduler:steps' with its own count.
 */
function sweepCells(schedulers: string[], steps: number[]): [string, number][] {
  return schedulers.flatMap((e): [string, number][] => {
    const i = e.lastIndexOf(':');
    if (i < 0) return steps.map((k): [string, number] => [e, k]);
    const k = Number(e.slice(i + 1));
    if (!(Number.isInteger(k) && k >= 1))
      throw new Error(`--sweep: '${e}' must be scheduler or scheduler:steps with a positive integer step count`);
    return [[e.slice(0, i), k]];
  });
}

/** A sample metric of the model's samples over seeds, for one scheduler or a sweep, with its real-data baseline. */
async function evaluateSampleQuality(run: EvalRun): Promise<EvalReport> {
  const { m, o, metric, seed } = run;
  const n = o.n ?? (run.vector ? 2000 : 500);
  // One batch of n samples per run: refused up front (naming --n) when it cannot fit in memory.
  checkMemory(
    `eval --n ${n} (one batch of samples per run)`,
    samplingBytes(estimateModelResources(m.model.toConfig(), 'the model config'), n),
    memoryLimit(),
  );
  const seeds = o.seeds ?? 3;
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new Error(`--seeds: expected a positive integer, got ${seeds}`);
  if (o.timesteps && o.steps) throw new Error('--timesteps: replaces --steps; pass only one of them');
  const steps = o.timesteps ? [o.timesteps.length] : checkSteps(o.steps ?? [20]);
  const schedulers = o.sweepSchedulers ?? [o.scheduler ?? 'dpmsolver++'];
  if (!o.sweepSchedulers && steps.length > 1)
    throw new Error('--steps: several step counts need --sweep scheduler=...');
  const pairs = sweepCells(schedulers, steps);
  // --eta with a scheduler that has none is a usage error, not a failed cell of the table.
  if (o.eta !== undefined) for (const [s] of pairs) checkEtaSupported(samplingScheduler(s, m.schedulerConfig), o.eta);
  // so is --timesteps with a scheduler that takes none (or indices outside its grid)
  if (o.timesteps)
    for (const [s] of pairs) samplingScheduler(s, m.schedulerConfig).setTimesteps({ timesteps: o.timesteps });
  const sm = await createSampleMetric(metric, m, { n, projections: o.projections });
  const seedList = Array.from({ length: seeds }, (_, i) => seed + i);
  const r = await runSweep(m, sm, {
    schedulers,
    steps,
    pairs,
    seeds: seedList,
    n,
    eta: o.eta,
    timesteps: o.timesteps,
    onRun: (i) =>
      run.log(
        `eval: seed ${i.seed} ${i.scheduler} ${i.steps} steps (${i.nfe} NFE): ${metric} ${i.value.toPrecision(5)} (${i.seconds.toFixed(1)} s)`,
      ),
  });
  const headline = r.cells[r.cells.length - 1];
  return {
    ...run.base,
    metric,
    label: sm.label,
    description: sm.description,
    unit: null,
    lower_is_better: sm.lowerIsBetter,
    value: headline.mean,
    standard_error: headline.se,
    settings: {
      metric,
      schedulers,
      steps,
      timesteps: o.timesteps ?? null,
      cells: pairs,
      n,
      seeds: seedList,
      eta: o.eta ?? null,
      projections: metric === 'swd' ? (o.projections ?? 256) : null,
      sweep: !!o.sweepSchedulers,
    },
    baseline: r.baseline,
    sweep: r.cells,
    seconds: (performance.now() - run.t0) / 1000,
  };
}
