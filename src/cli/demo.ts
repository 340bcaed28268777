/**
 * `diffuse demo`: the embedded default job. Until the training pipeline lands this is the engine
 * example: an MLP fitted to y = sin(3x) on [-1, 1] with AdamW, every step one compiled ONNX graph
 * (forward + backward + optimizer). Deterministic: the same seed gives the same loss curve bit
 * for bit.
 */
import {
  Philox, add, matmul, mean, mul, sub, tanh, type Value,
} from '../engine/index.ts';
import { TrainStep } from '../training/train_step.ts';

export interface MlpRegressionOptions {
  steps?: number;
  seed?: number;
  hidden?: number;
  batch?: number;
  lr?: number;
  onStep?: (step: number, loss: number) => void;
}

/** Train the example MLP; returns the loss after every step. */
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

export async function demo(opts: { steps?: number; seed?: number } = {}): Promise<void> {
  const steps = opts.steps ?? 300;
  const t0 = performance.now();
  const losses = await runMlpRegression({
    steps, seed: opts.seed ?? 0,
    onStep: (s, l) => { if (s % 50 === 0 || s === steps - 1) console.log(`step ${String(s).padStart(4)}  loss ${l.toFixed(5)}`); },
  });
  const secs = (performance.now() - t0) / 1000;
  console.log(`MLP fitted to sin(3x): loss ${losses[0].toFixed(4)} -> ${losses[steps - 1].toFixed(4)} in ${steps} AdamW steps (${(steps / secs).toFixed(0)} steps/s)`);
}

