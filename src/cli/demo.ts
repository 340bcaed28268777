/**
 * `diffuse demo`: the embedded default job. Trains mlp-2d on a built-in 2D data set for about a
 * minute on 2 cores, samples 2000 points with 20 DPM-Solver++ steps, and writes a scatter plot, a
 * GIF of the denoising trajectory and the MMD to fresh data (beside the MMD between two fresh data
 * sets, the noise floor). Nothing is downloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  Philox, add, matmul, mean, mul, sub, tanh, type Value,
} from '../engine/index.ts';
import { TrainStep } from '../training/train_step.ts';
import { trainCommand } from './train_command.ts';
import { sampleModelFolder } from '../pipelines/sample_model.ts';
import { openDataSource } from '../training/data_source.ts';
import { mmdRbf } from '../eval/mmd.ts';

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
    w1: uniform([1, hidden], 1), b1: uniform([hidden], 1),
    w2: uniform([hidden, hidden], hidden), b2: uniform([hidden], hidden),
    w3: uniform([hidden, 1], hidden), b3: uniform([1], hidden),
  };
  const net = (p: Record<string, Value>, x: Value) => {
    const h1 = tanh(add(matmul(x, p.w1), p.b1));
    const h2 = tanh(add(matmul(h1, p.w2), p.b2));
    return add(matmul(h2, p.w3), p.b3);
  };
  const ts = await TrainStep.create(
    (p, b) => { const d = sub(net(p, b.x), b.y); return mean(mul(d, d)); },
    params,
    [{ name: 'x', shape: [batch, 1] }, { name: 'y', shape: [batch, 1] }],
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

export async function demo(o: { steps: number; seed: number; out: string; data: string }): Promise<void> {
  const runDir = path.join(o.out, 'model');
  fs.rmSync(runDir, { recursive: true, force: true }); // the demo's own folder: always a fresh run
  const t0 = performance.now();
  await trainCommand({
    data: o.data, model: 'mlp-2d', steps: o.steps, batchSize: 256, lr: 2e-3, out: runDir, seed: o.seed,
    sampleEvery: Math.max(1, Math.floor(o.steps / 4)), checkpointEvery: o.steps,
  });
  const trainSecs = (performance.now() - t0) / 1000;
  const n = 2000;
  const samples = await sampleModelFolder(runDir, { scheduler: 'dpmsolver++', steps: 20, n, seed: o.seed + 1, out: path.join(o.out, 'samples.png') });
  await sampleModelFolder(runDir, { scheduler: 'dpmsolver++', steps: 20, n: 500, seed: o.seed + 2, out: path.join(o.out, 'trajectory.gif') });
  const data = openDataSource(o.data, { batchSize: 1, seed: 0 });
  const fresh = data.reference(n, 1000 + o.seed), fresh2 = data.reference(n, 2000 + o.seed);
  const m = mmdRbf(samples, fresh), floor = mmdRbf(fresh2, fresh);
  console.log(`\n${o.data}: trained ${o.steps} steps in ${trainSecs.toFixed(1)} s; 2000 samples with 20 DPM-Solver++ steps`);
  console.log(`MMD^2(samples, data) = ${m.toExponential(2)}   MMD^2(data, data) = ${floor.toExponential(2)} (noise floor)`);
  console.log(`wrote ${path.join(o.out, 'samples.png')}, ${path.join(o.out, 'trajectory.gif')}, previews in ${path.join(runDir, 'samples')}/`);

}
