/**
 * A small MNIST digit classifier trained with diffuse's own engine (src/nn layers, TrainStep with
 * AdamW), for judging generated digits: class accuracy / confidence of samples, and a Fréchet distance
 * on its penultimate features ("FID-MNIST", the FID recipe of Heusel et al. 2017 with this network in
 * place of Inception).
 *
 *   conv 1->16, 3x3, stride 2, pad 1, ReLU   [28x28 -> 14x14]
 *   conv 16->32, 3x3, stride 2, pad 1, ReLU  [14x14 -> 7x7]
 *   flatten, linear 1568 -> 64, ReLU          <- the 64 features
 *   linear 64 -> 10                           <- logits
 *
 * Data: the `mnist` package's 10,000 digits (src/data/mnist.ts), images in [-1, 1] (the diffusion models'
 * range), split by a fixed Philox permutation (`mnistSplit`): 8,000 train the classifier and give the
 * reference statistics of FID-MNIST, 2,000 are held out (accuracy check, and the real-data FID baseline:
 * FID of held-out real digits against the reference statistics).
 * Training is deterministic: PyTorch-default init from Philox(0), 6 epochs of batch 50 with a Philox
 * shuffle per epoch, AdamW lr 5e-3 (weight decay 0) with a cosine decay. The weights shipped in
 * src/eval/assets/mnist_classifier.safetensors were made by `trainMnistClassifier()` (see
 * `diffuse eval --train-classifier`); `loadMnistClassifier()` reads them, or trains on demand (~15 s).
 *
 * @example
 *   const clf = await loadMnistClassifier();
 *   const { probs, features } = await clf.run(images);          // images [N, 1, 28, 28] in [-1, 1]
 *   clf.accuracy(probs, labels);
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NDArray, Philox, logSoftmax, mean, mul, sum } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import { TrainStep } from '../training/train_step.ts';
import { loadMnist } from '../data/mnist.ts';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { MnistClassifier, MnistClassifierNet } from './mnist_classifier_net.ts';

// The network and inference wrapper live in a browser-safe module (no fs); re-exported here.
export { FEATURE_DIM, MnistClassifierNet, MnistClassifier, argmax } from './mnist_classifier_net.ts';

/** Size of the classifier's training split; the other 2,000 digits are held out. */
export const MNIST_TRAIN_SPLIT = 8000;

/**
 * The fixed train / held-out split of the 10,000 digits: a Philox(20240) permutation, first 8,000 train.
 * @example const { train, heldOut } = mnistSplit(); train.images.shape // [8000, 1, 28, 28]
 */
export function mnistSplit(): { train: { images: NDArray; labels: Uint8Array }; heldOut: { images: NDArray; labels: Uint8Array } } {
  const { images, labels } = loadMnist();
  const N = images.shape[0];
  const perm = new Philox(20240).permutation(N);
  const take = (idx: Uint32Array) => {
    const x = new NDArray([idx.length, 1, 28, 28]);
    const y = new Uint8Array(idx.length);
    idx.forEach((i, r) => { x.data.set(images.data.subarray(i * 784, (i + 1) * 784), r * 784); y[r] = labels[i]; });
    return { images: x, labels: y };
  };
  const cut = Math.min(MNIST_TRAIN_SPLIT, N);
  return { train: take(perm.subarray(0, cut)), heldOut: take(perm.subarray(cut)) };
}
/** Where the shipped weights live. */
export const CLASSIFIER_WEIGHTS = fileURLToPath(new URL('./assets/mnist_classifier.safetensors', import.meta.url));

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
  const epochs = o.epochs ?? 6, B = o.batchSize ?? 50, lr = o.lr ?? 5e-3, seed = o.seed ?? 0;
  const net = new MnistClassifierNet();
  const { images, labels } = mnistSplit().train;
  const N = Math.min(o.limit ?? images.shape[0], images.shape[0]);
  const steps = Math.floor(N / B);
  if (steps < 1) throw new Error(`trainMnistClassifier: ${N} images are fewer than one batch of ${B}`);
  const ts = await TrainStep.create(
    (p, b) => withParams(net, p, () => {
      const { logits } = net.forward(b.x);
      return mul(mean(sum(mul(b.onehot, logSoftmax(logits, 1)), [1])), -1); // cross-entropy
    }),
    net.initParams(new Philox(seed)),
    [{ name: 'x', shape: [B, 1, 28, 28] }, { name: 'onehot', shape: [B, 10] }],
    { optimizer: { weightDecay: 0 } },
  );
  const rng = new Philox(seed).fold(0xc1a55);
  const total = epochs * steps;
  for (let e = 0; e < epochs; e++) {
    const perm = rng.permutation(N);
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      const x = new NDArray([B, 1, 28, 28]), onehot = new NDArray([B, 10]);
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
  const sorted = Object.fromEntries(Object.keys(weights).sort().map((k) => [k, weights[k]]));
  writeFileAtomicSync(file, serializeSafetensors(sorted, { format: 'pt' }));
}

/**
 * The classifier with the shipped weights (or those in `file`); trains on demand when the file is absent.
 * @example const clf = await loadMnistClassifier();
 */
export async function loadMnistClassifier(file = CLASSIFIER_WEIGHTS): Promise<MnistClassifier> {
  if (!fs.existsSync(file)) return new MnistClassifier(await trainMnistClassifier());
  const tensors = new Map(readSafetensors(file, { source: `MNIST classifier ${file}` }).toNDArrays());
  const net = new MnistClassifierNet();
  const weights: Record<string, NDArray> = {};
  for (const [name, p] of net.namedParameters()) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: missing tensor '${name}' [${p.shape.join(', ')}] of the MNIST classifier`);
    weights[name] = t;
  }
  return new MnistClassifier(weights);
}
