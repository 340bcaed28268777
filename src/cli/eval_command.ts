/**
 * `diffuse eval DIR`: measure a trained model — a sample metric for one sampler or a sweep over samplers
 * and step counts against the real number of model evaluations (NFE), or a likelihood (probability-flow
 * ODE NLL, variational bound). Prints a table, writes the JSON report (--out) and, for sweeps, a PNG plot.
 *
 * @example
 *   diffuse eval runs/8g --metric mmd --sweep scheduler=ddpm,ddim,dpmsolver++,unipc,heun --steps 5,10,20,50,1000 --out sweep.json
 *   diffuse eval runs/8g --metric nll --n 1000
 *   diffuse eval --train-classifier classifier.safetensors
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { EVAL_METRICS } from '../eval/runs/metric_names.ts';
import type { EvalReport } from '../eval/runs/evaluate.ts';
import type { SweepResult } from '../eval/runs/sweep.ts';
import { parseTimesteps, TIMESTEPS_HELP } from './timesteps_option.ts';
// The engine (ONNX Runtime) loads only when the command runs: see the dynamic imports below.

const intOpt = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new InvalidArgumentError(`${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
};
const numOpt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name}: expected a number > 0, got '${v}'`);
  return n;
};
const intList = (name: string) => (v: string) =>
  v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name}: '${s}' in '${v}' is not a positive integer (expected e.g. 5,10,20)`);
    return n;
  });
const sweepSpec = (v: string) => {
  const m = /^scheduler=(.+)$/.exec(v.trim());
  if (!m)
    throw new InvalidArgumentError(
      `--sweep: expected scheduler=<a,b,...> (e.g. scheduler=ddpm,ddim,dpmsolver++), got '${v}'`,
    );
  const list = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new InvalidArgumentError('--sweep: no schedulers after scheduler=');
  return list;
};
const vlbSteps = (v: string) => {
  if (v === 'all') return 'all' as const;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`--vlb-timesteps: expected 'all' or a positive integer, got '${v}'`);
  return n;
};

interface EvalCliOptions {
  metric?: string;
  scheduler?: string;
  sweep?: string[];
  steps?: number[];
  timesteps?: number[];
  n?: number;
  seed?: number;
  seeds?: number;
  eta?: number;
  out?: string;
  plot?: string;
  rtol?: number;
  atol?: number;
  probes?: number;
  batchSize?: number;
  vlbTimesteps?: 'all' | number;
  projections?: number;
  trainClassifier?: string;
  replot?: string;
  quiet?: boolean;
}

async function writeSweepPlot(report: EvalReport, plot: string): Promise<void> {
  const { sweepPlotSpec } = await import('../eval/runs/sweep.ts');
  const { writeLinePlotPng } = await import('../eval/plots/line_plot.ts');
  if (!report.sweep || !report.baseline)
    throw new Error(`--plot ${plot}: the report has no sweep to plot (metric '${report.metric}')`);
  const sr: SweepResult = {
    metric: {
      name: report.metric,
      label: report.label,
      description: report.description,
      lowerIsBetter: report.lower_is_better,
    },
    cells: report.sweep,
    baseline: report.baseline,
    seeds: report.settings.seeds as number[],
    n: report.settings.n as number,
  };
  // JSON has no NaN: failed cells come back with null means
  for (const c of sr.cells) if (c.mean === null) c.mean = NaN;
  fs.mkdirSync(path.dirname(path.resolve(plot)), { recursive: true });
  writeLinePlotPng(
    plot,
    sweepPlotSpec(
      sr,
      `${report.metric} vs NFE: ${path.basename(report.model)}${report.data ? ` (${report.data})` : ''}`,
    ),
  );
}

function fmt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(4) : v.toPrecision(5);
}

/** Human-readable summary of a report. */
export async function formatReport(r: EvalReport): Promise<string> {
  const { formatSweepTable } = await import('../eval/runs/sweep.ts');
  if (r.sweep && r.baseline) {
    const sr: SweepResult = {
      metric: { name: r.metric, label: r.label, description: r.description, lowerIsBetter: r.lower_is_better },
      cells: r.sweep,
      baseline: r.baseline,
      seeds: r.settings.seeds as number[],
      n: r.settings.n as number,
    };
    return `${r.description}\n(mean and standard error over seeds ${(r.settings.seeds as number[]).join(', ')})\n\n${formatSweepTable(sr)}`;
  }
  return `${r.metric} = ${fmt(r.value)} +- ${fmt(r.standard_error)} ${r.unit ?? ''} (standard error)\n${r.description}`;
}

async function trainClassifierCommand(file: string, log: (s: string) => void): Promise<void> {
  const { MnistClassifier } = await import('../eval/metrics/mnist_classifier.ts');
  const { mnistSplit } = await import('../data/mnist.ts');
  const { saveClassifierWeights, trainMnistClassifier } = await import('../training/train_mnist_classifier.ts');
  const t0 = performance.now();
  const w = await trainMnistClassifier({
    onEpoch: (e, loss) => log(`epoch ${e + 1}: mean training loss ${loss.toFixed(4)}`),
  });
  const clf = new MnistClassifier(w);
  const { heldOut } = mnistSplit();
  const acc = clf.accuracy((await clf.run(heldOut.images)).probs, heldOut.labels);
  saveClassifierWeights(file, w);
  log(
    `wrote ${file}: held-out accuracy ${(100 * acc).toFixed(2)}% (${heldOut.images.shape[0]} digits), ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

/**
 * Register `eval` on the CLI program.
 * @example registerEvalCommand(program)
 */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'measure a trained model: sample metrics (one sampler, or a sweep against NFE) or likelihoods; prints and writes JSON',
    )
    .argument('[dir]', 'model folder written by `diffuse train`')
    .option('--metric <name>', `${EVAL_METRICS.join(' | ')} (default: mmd for vector data, fid-mnist for 28x28 images)`)
    .option(
      '--scheduler <name>',
      'sampler of a single evaluation (ddpm | ddim | dpmsolver++ | unipc | heun | ... | a diffusers class name)',
      'dpmsolver++',
    )
    .option(
      '--sweep <spec>',
      'scheduler=a,b,c: the metric for every scheduler x --steps, against NFE (an entry a:K is one cell with K steps)',
      sweepSpec,
    )
    .option('--steps <list>', 'inference steps (a list with --sweep), e.g. 5,10,20,50,1000', intList('--steps'))
    .option('--timesteps <list>', TIMESTEPS_HELP, parseTimesteps('--timesteps'))
    .option('--n <n>', 'samples per run / data points for likelihoods', intOpt('--n', 2))
    .option('--seed <n>', 'first seed', intOpt('--seed', 0), 0)
    .option(
      '--seeds <k>',
      'repetitions (seeds seed..seed+k-1) of sample metrics; the standard error is over them',
      intOpt('--seeds', 1),
      3,
    )
    .option('--eta <x>', 'DDIM eta')
    .option('--out <file.json>', 'write the JSON report (a sweep also writes <file>.png unless --plot is given)')
    .option('--plot <file.png>', 'where to write the sweep plot')
    .option('--rtol <x>', 'ODE relative tolerance (nll)', numOpt('--rtol'))
    .option('--atol <x>', 'ODE absolute tolerance (nll)', numOpt('--atol'))
    .option(
      '--probes <k>',
      'Hutchinson probes for nll (0 = exact trace; default exact for <= 64 dims, else 1)',
      intOpt('--probes', 0),
    )
    .option('--batch-size <n>', 'points per ODE solve (nll) / terms per model call (vlb)', intOpt('--batch-size', 1))
    .option(
      '--vlb-timesteps <all|K>',
      "VLB terms: 'all' or K stratified ones (default: all for vector data, 50 for images)",
      vlbSteps,
    )
    .option('--projections <L>', 'directions of the sliced Wasserstein distance (swd)', intOpt('--projections', 1))
    .option(
      '--replot <report.json>',
      're-draw the plot of a saved sweep report (to --plot, default <report>.png); no DIR needed',
    )
    .option(
      '--train-classifier <file>',
      'train the MNIST classifier of fid-mnist / accuracy / confidence and write its weights (no DIR needed)',
    )
    .option('--quiet', 'no progress lines')
    .action(evalAction);
}

/** `diffuse eval [dir]`: train the classifier, re-draw a saved sweep, or evaluate a model folder. */
async function evalAction(dir: string | undefined, o: EvalCliOptions): Promise<void> {
  const log = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  if (o.trainClassifier) {
    if (dir) throw new Error('--train-classifier: takes no model folder');
    await trainClassifierCommand(o.trainClassifier, log);
    return;
  }
  if (o.replot) {
    if (dir) throw new Error('--replot: takes no model folder');
    await replotCommand(o.replot, o.plot, log);
    return;
  }
  if (!dir) throw new Error('eval: missing the model folder (diffuse eval DIR ...), or use --train-classifier <file>');
  if (o.eta !== undefined && !(Number.isFinite(Number(o.eta)) && Number(o.eta) >= 0 && Number(o.eta) <= 1))
    throw new Error(`--eta: expected a number in [0, 1], got '${o.eta}'`);
  if (o.out && path.extname(o.out).toLowerCase() !== '.json')
    throw new Error(`--out ${o.out}: the report is JSON; use a .json file name`);
  if (o.plot && path.extname(o.plot).toLowerCase() !== '.png')
    throw new Error(`--plot ${o.plot}: the plot is a PNG; use a .png file name`);
  // One writer per report: --out is locked from the start of the evaluation to its write (released at exit too).
  const lock = o.out ? (await import('../folders/lock.ts')).acquireFileLock(o.out, 'eval') : null;
  const { evaluateModelFolder } = await import('../eval/runs/evaluate.ts');
  const report = await evaluateModelFolder(dir, {
    metric: o.metric,
    scheduler: o.scheduler,
    sweepSchedulers: o.sweep,
    steps: o.steps,
    timesteps: o.timesteps,
    n: o.n,
    seed: o.seed,
    seeds: o.seeds,
    eta: o.eta === undefined ? undefined : Number(o.eta),
    rtol: o.rtol,
    atol: o.atol,
    probes: o.probes,
    batchSize: o.batchSize,
    vlbTimesteps: o.vlbTimesteps,
    projections: o.projections,
    log,
  });
  process.stdout.write(`${await formatReport(report)}\n`);
  if (o.out) {
    const { writeFileAtomicSync } = await import('../io/atomic.ts');
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    writeFileAtomicSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${o.out}`);
  }
  const plot = o.plot ?? (o.sweep && o.out ? o.out.replace(/\.json$/i, '.png') : undefined);
  if (plot && report.sweep && report.baseline) {
    await writeSweepPlot(report, plot);
    log(`wrote ${plot}`);
  }
  lock?.release();
}

/** `--replot report.json`: re-draw the sweep plot of a saved report (to `plot`, default report.png). */
async function replotCommand(file: string, plotFile: string | undefined, log: (s: string) => void): Promise<void> {
  let report: EvalReport;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8')) as EvalReport;
  } catch (e) {
    throw new Error(`--replot ${file}: cannot read the report (${(e as Error).message})`);
  }
  const plot = plotFile ?? file.replace(/\.json$/i, '') + '.png';
  await writeSweepPlot(report, plot);
  log(`wrote ${plot}`);
}
