/**
 * Training the MNIST digit classifier (src/eval/metrics/mnist_classifier.ts describes the network and how
 * the metrics use it) with diffuse's own engine: deterministic — PyTorch-default init from
 * Philox(seed), batch 50 with a Philox shuffle per epoch, AdamW with a cosine decay. The shipped
 * weights (src/eval/assets/mnist_classifier.safetensors) were made by `trainMnistClassifier()`.
 *
 * @example
 *   saveClassifierWeights('clf.safetensors', await trainMnistClassifier({ epochs: 6 }));
 */
import { NDArray, Philox, logSoftmax, mean, mul, sum } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import { mnistSplit } from '../data/mnist.ts';
import { serializeSafetensors } from '../io/safetensors.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { MnistClassifierNet } from '../models/mnist_classifier_net.ts';
import { TrainStep } from './train_step.ts';

export interface ClassifierTrainOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Train on only the first n images of the training split (tests). */
  limit?: number;
  /** Progress callback per epoch. */
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Train the classifier from scratch, deterministically (see the module doc). Returns the weights.
 * @example const weights = await trainMnistClassifier({ epochs: 4 });
 */
export async function trainMnistClassifier(o: ClassifierTrainOptions = {}): Promise<Record<string, NDArray>> {
  const epochs = o.epochs ?? 6,
    B = o.batchSize ?? 50,
    lr = o.lr ?? 5e-3,
    seed = o.seed ?? 0;
  const net = new MnistClassifierNet();
  const { images, labels } = mnistSplit().train;
  const N = Math.min(o.limit ?? images.shape[0], images.shape[0]);
  const steps = Math.floor(N / B);
  if (steps < 1) throw new Error(`trainMnistClassifier: ${N} images are fewer than one batch of ${B}`);
  const ts = await TrainStep.create(
    (p, b) =>
      withParams(net, p, () => {
        const { logits } = net.forward(b.x);
        return mul(mean(sum(mul(b.onehot, logSoftmax(logits, 1)), [1])), -1); // cross-entropy
      }),
    net.initParams(new Philox(seed)),
    [
      { name: 'x', shape: [B, 1, 28, 28] },
      { name: 'onehot', shape: [B, 10] },
    ],
    { optimizer: { weightDecay: 0 } },
  );
  const rng = new Philox(seed).fold(0xc1a55);
  const total = epochs * steps;
  for (let e = 0; e < epochs; e++) {
    const perm = rng.permutation(N);
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      const x = new NDArray([B, 1, 28, 28]),
        onehot = new NDArray([B, 10]);
      for (let r = 0; r < B; r++) {
        const i = perm[s * B + r];
        x.data.set(images.data.subarray(i * 784, (i + 1) * 784), r * 784);
        onehot.data[r * 10 + labels[i]] = 1;
      }
      const k = e * steps + s;
      const { loss } = await ts.step({ x, onehot }, lr * 0.5 * (1 + Math.cos((Math.PI * k) / total)));
      lossSum += loss;
    }
    o.onEpoch?.(e, lossSum / steps);
  }
  return ts.params;
}

/**
 * Save classifier weights as safetensors (atomic).
 * @example saveClassifierWeights('clf.safetensors', await trainMnistClassifier());
 */
export function saveClassifierWeights(file: string, weights: Record<string, NDArray>): void {
  const sorted = Object.fromEntries(
    Object.keys(weights)
      .sort()
      .map((k) => [k, weights[k]]),
  );
  writeFileAtomicSync(file, serializeSafetensors(sorted, { format: 'pt' }));
}
