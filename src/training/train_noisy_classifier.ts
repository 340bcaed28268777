/**
 * Training the time-conditional classifier of classifier guidance (Dhariwal & Nichol 2021, sec. 4):
 * cross-entropy of p_phi(y | x_t, t) on forward-process samples x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps
 * (DDPM eq. 4) with t uniform over the training timesteps, on the same noise schedule as the diffusion
 * model. Uses the project's compiled TrainStep (forward, backward and AdamW in one graph) and its
 * warm-up + cosine learning-rate schedule; data from any labelled DataSource (mnist, class folders).
 *
 * @example
 *   const net = new NoisyClassifier(validateNoisyClassifierConfig({ sample_shape: [1, 28, 28], num_classes: 10 }));
 *   const { weights } = await trainNoisyClassifier(net, openDataSource('mnist', { batchSize: 64, seed: 0 }),
 *     { steps: 1500, lr: 2e-3, seed: 0, noiseSchedule: schedulerConfig });
 */
import { NDArray, Philox, logSoftmax, mean, mul, sum } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import { addNoise } from '../diffusion/forward.ts';
import { DDPMScheduler } from '../samplers/ddpm.ts';
import type { NoisyClassifier } from '../models/noisy_classifier.ts';
import { TrainStep } from './train_step.ts';
import { warmupCosine } from './lr_schedule.ts';
import type { DataSource } from '../data/data_source.ts';

/** Options of `trainNoisyClassifier`. */
export interface NoisyClassifierTrainOptions {
  steps: number;
  /** Peak learning rate (AdamW, weight decay 0). */
  lr: number;
  warmupSteps?: number;
  seed: number;
  /** The diffusion model's noise schedule (a DDPMScheduler config, e.g. its scheduler_config.json). */
  noiseSchedule: Record<string, unknown>;
  /** Called every `every` steps with the mean cross-entropy (on the noisy inputs) since the last call. */
  onProgress?: (p: { step: number; steps: number; loss: number; lr: number }) => void;
  every?: number;
}

/**
 * Train from the net's initial parameters (PyTorch-default init from Philox(seed)); returns the weights and the loss curve.
 * @example const { weights, losses } = await trainNoisyClassifier(net, data, { steps: 500, lr: 2e-3, seed: 0, noiseSchedule: {} })
 */
export async function trainNoisyClassifier(
  net: NoisyClassifier,
  data: DataSource,
  o: NoisyClassifierTrainOptions,
): Promise<{ weights: Record<string, NDArray>; losses: number[] }> {
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new Error(`--steps ${o.steps}: expected a positive integer`);
  const desc = data.describe();
  const K = net.config.num_classes;
  if (desc.numClasses === null)
    throw new Error(
      `--data ${desc.spec}: has no class labels; a classifier needs labelled data (mnist, or an image folder with one sub-folder per class)`,
    );
  if (desc.numClasses !== K)
    throw new Error(`--data ${desc.spec}: has ${desc.numClasses} classes but the classifier has num_classes = ${K}`);
  if (desc.sampleShape.join() !== net.config.sample_shape.join())
    throw new Error(
      `--data ${desc.spec}: samples of shape [${desc.sampleShape}] but the classifier expects [${net.config.sample_shape}]`,
    );
  const sched = new DDPMScheduler({ ...o.noiseSchedule, _class_name: undefined, _use_default_values: undefined });
  const T = sched.config.num_train_timesteps as number;
  const first = await data.next();
  const B = first.x.shape[0];
  const ts = await TrainStep.create(
    (p, b) => withParams(net, p, () => mul(mean(sum(mul(b.onehot, logSoftmax(net.forward(b.x, b.t), 1)), [1])), -1)),
    net.initParams(new Philox(o.seed)),
    [
      { name: 'x', shape: [B, ...net.config.sample_shape] },
      { name: 't', shape: [B] },
      { name: 'onehot', shape: [B, K] },
    ],
    { optimizer: { weightDecay: 0 } },
  );
  const lr = warmupCosine({
    lr: o.lr,
    warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(o.steps / 10)),
    totalSteps: o.steps,
  });
  const rng = new Philox(o.seed).fold(0xc1a5);
  const losses: number[] = [];
  let batch = first,
    lossAcc = 0,
    n = 0;
  const every = o.every ?? 100;
  for (let step = 0; step < o.steps; step++) {
    if (step > 0) batch = await data.next();
    if (!batch.labels) throw new Error(`--data ${desc.spec}: a batch came without labels`);
    const t = Float32Array.from(rng.uniform([B]).data, (u) => Math.min(T - 1, Math.floor(u * T)));
    const xt = addNoise(batch.x, rng.normal(batch.x.shape), sched.alphasCumprod, Array.from(t));
    const onehot = new NDArray([B, K]);
    batch.labels.forEach((k, i) => {
      onehot.data[i * K + k] = 1;
    });
    const { loss } = await ts.step({ x: xt, t: new NDArray([B], t), onehot }, lr(step));
    if (!Number.isFinite(loss))
      throw new Error(`train-classifier: the loss became ${loss} at step ${step + 1}; lower --lr`);
    losses.push(loss);
    lossAcc += loss;
    n++;
    if (o.onProgress && ((step + 1) % every === 0 || step + 1 === o.steps)) {
      o.onProgress({ step: step + 1, steps: o.steps, loss: lossAcc / n, lr: lr(step) });
      lossAcc = 0;
      n = 0;
    }
  }
  return { weights: ts.params, losses };
}
