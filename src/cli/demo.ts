/**
 * `diffuse demo`: the embedded default job. Trains mlp-2d on a built-in 2-D data set with the toy recipe
 * (TOY2D_RECIPE, src/training/recipes.ts: exactly what `diffuse train --data <set>` does by default),
 * samples 2000 points with the recipe's sampler, and writes three pictures: data and samples side by
 * side with the score in the title, the denoising trajectory as a GIF and the loss curve. The score is the
 * MMD ratio of src/eval/metrics/mmd_ratio.ts (biased MMD^2 to fresh data over the same for fresh data: 1.0 = as
 * close to the data as fresh data). Nothing is downloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Philox, add, matmul, mean, mul, sub, tanh, type Value } from '../engine/index.ts';
import { TrainStep } from '../training/train_step.ts';
import { trainCommand, type TrainCliOptions } from './train_command.ts';
import { sampleModelFolder } from '../pipelines/sample_model.ts';
import { openDataSource } from '../data/data_source.ts';
import { mmdRatio } from '../eval/metrics/mmd_ratio.ts';
import { writeScatterComparisonPng } from '../eval/plots/scatter_compare.ts';
import { writeLinePlotPng } from '../eval/plots/line_plot.ts';
import { TOY2D_RECIPE } from '../training/recipes.ts';
import { folderHoldsModel } from '../folders/index.ts';
import { checkOutputFolder } from './output_paths.ts';

export interface MlpRegressionOptions {
  steps?: number;
  seed?: number;
  hidden?: number;
  batch?: number;
  lr?: number;
  onStep?: (step: number, loss: number) => void;
}

/**
 * The engine example: an MLP fitted to y = sin(3x) on [-1, 1] with AdamW, every step one compiled
 * ONNX graph. Returns the loss after every step (same seed, same bits).
 */
export async function runMlpRegression(opts: MlpRegressionOptions = {}): Promise<Float32Array> {
  const { steps = 300, seed = 0, hidden = 32, batch = 64, lr = 1e-2 } = opts;
  const rng = new Philox(seed);
  // PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
  const uniform = (shape: number[], fanIn: number) => rng.uniform(shape).map((u) => (2 * u - 1) / Math.sqrt(fanIn));
  const params = {
    w1: uniform([1, hidden], 1),
    b1: uniform([hidden], 1),
    w2: uniform([hidden, hidden], hidden),
    b2: uniform([hidden], hidden),
    w3: uniform([hidden, 1], hidden),
    b3: uniform([1], hidden),
  };
  const net = (p: Record<string, Value>, x: Value) => {
    const h1 = tanh(add(matmul(x, p.w1), p.b1));
    const h2 = tanh(add(matmul(h1, p.w2), p.b2));
    return add(matmul(h2, p.w3), p.b3);
  };
  const ts = await TrainStep.create(
    (p, b) => {
      const d = sub(net(p, b.x), b.y);
      return mean(mul(d, d));
    },
    params,
    [
      { name: 'x', shape: [batch, 1] },
      { name: 'y', shape: [batch, 1] },
    ],
    { optimizer: { weightDecay: 1e-4 }, maxGradNorm: 10 },
  );
  const losses = new Float32Array(steps);
  for (let s = 0; s < steps; s++) {
    const x = rng.uniform([batch, 1]).map((u) => 2 * u - 1);
    const y = x.map((v) => Math.sin(3 * v));
    losses[s] = (await ts.step({ x, y }, lr)).loss;
    opts.onStep?.(s, losses[s]);
  }
  return losses;
}

export interface DemoOptions {
  /** Training steps (default: the toy recipe's). */
  steps?: number;
  seed: number;
  out: string;
  data: string;
}

/**
 * What the demo runs: the `diffuse train` options (only the data, folder and seed typed, so every other
 * setting is the toy recipe's, as on the command line) and the recipe's sampler.
 * @example demoPlan({ seed: 0, out: 'out/demo', data: 'moons' }).sampler // TOY2D_RECIPE.sampler
 */
export function demoPlan(o: DemoOptions): { train: TrainCliOptions; sampler: { scheduler: string; steps: number } } {
  const runDir = path.join(o.out, 'model');
  const train = {
    data: o.data,
    model: 'mlp-2d',
    out: runDir,
    seed: o.seed,
    quiet: false,
    explicit: ['data', 'model', 'out', 'seed', ...(o.steps !== undefined ? ['steps'] : [])],
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
  } as TrainCliOptions;
  return { train, sampler: { ...TOY2D_RECIPE.sampler } };
}

/** Mean of each window of `k` losses, as plot points at the window's last step. */
function smoothedLoss(losses: readonly number[], points = 200): { x: number; y: number }[] {
  const k = Math.max(1, Math.floor(losses.length / points));
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i + k <= losses.length; i += k) {
    let s = 0,
      c = 0;
    for (let j = i; j < i + k; j++)
      if (Number.isFinite(losses[j])) {
        s += losses[j];
        c++;
      }
    if (c > 0) out.push({ x: i + k, y: s / c });
  }
  return out;
}

export async function demo(o: DemoOptions): Promise<void> {
  const t0 = performance.now();
  const plan = demoPlan(o);
  const runDir = plan.train.out;
  checkOutputFolder(o.out, '--out');
  // The demo's own folder: always a fresh run; but only a folder that holds a diffuse run (or
  // nothing) is removed, never a user's folder that happens to be called "model".
  if (fs.existsSync(runDir) && fs.readdirSync(runDir).length > 0 && !folderHoldsModel(runDir)) {
    throw new Error(
      `--out ${o.out}: ${runDir} exists and does not hold a diffuse run; the demo would replace it (choose another --out)`,
    );
  }
  fs.rmSync(runDir, { recursive: true, force: true });
  const result = await trainCommand(plan.train);
  const trainSecs = (performance.now() - t0) / 1000;
  const n = 2000;
  const { scheduler, steps } = plan.sampler;
  const samples = await sampleModelFolder(runDir, { scheduler, steps, n, seed: o.seed + 1 });
  await sampleModelFolder(runDir, {
    scheduler,
    steps,
    n: 500,
    seed: o.seed + 2,
    out: path.join(o.out, 'trajectory.gif'),
  });
  const data = openDataSource(o.data, { batchSize: 1, seed: 0 });
  const fresh = data.reference(n, 1000 + o.seed);
  const floors = [2000, 3000, 4000].map((s) => data.reference(n, s + o.seed));
  const r = mmdRatio(samples, fresh, floors);
  const figure = path.join(o.out, 'samples.png'),
    lossPng = path.join(o.out, 'loss.png');
  writeScatterComparisonPng(figure, fresh, samples, {
    title: `${o.data}: data vs diffusion samples`,
    caption: `mlp-2d, ${result.steps} training steps (${trainSecs.toFixed(0)} s), ${steps} ${scheduler} steps; MMD ratio ${r.ratio.toFixed(2)} (1.0 = as close as fresh data)`,
    labels: [`data (${n} fresh points)`, `samples (${n})`],
  });
  writeLinePlotPng(lossPng, {
    title: `training loss, ${o.data}`,
    xLabel: 'step',
    yLabel: 'loss',
    logX: false,
    series: [
      {
        name: `mean of ${Math.max(1, Math.floor(result.losses.length / 200))} steps`,
        points: smoothedLoss(result.losses),
      },
    ],
  });
  const total = (performance.now() - t0) / 1000;
  console.log(
    `\n${o.data}: trained ${result.steps} steps in ${trainSecs.toFixed(1)} s; ${n} samples with ${steps} ${scheduler} steps; ${total.toFixed(1)} s in all`,
  );
  console.log(
    `MMD ratio ${r.ratio.toFixed(2)}: biased MMD^2(samples, data) = ${r.mmd2.toExponential(2)}, MMD^2(data, data) = ${r.floor.toExponential(2)} (noise floor, mean of ${floors.length} fresh sets)`,
  );
  console.log(
    `wrote ${figure} (data | samples), ${path.join(o.out, 'trajectory.gif')}, ${lossPng}; model in ${runDir} (diffuse sample ${runDir} --out x.png)`,
  );
}
