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
 * src/eval/assets/mnist_classifier.safetensors were made by `trainMnistClassifier()`
 * (src/training/train_mnist_classifier.ts; `diffuse eval --train-classifier`); `loadMnistClassifier()` reads them.
 *
 * @example
 *   const clf = await loadMnistClassifier();
 *   const { probs, features } = await clf.run(images);          // images [N, 1, 28, 28] in [-1, 1]
 *   clf.accuracy(probs, labels);
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NDArray } from '../../engine/index.ts';
import { readSafetensors } from '../../io/safetensors.ts';
import { MnistClassifier, MnistClassifierNet } from '../../models/mnist_classifier_net.ts';

// The network and inference wrapper live in a browser-safe module (no fs); re-exported here.
export { FEATURE_DIM, MnistClassifierNet, MnistClassifier, argmax } from '../../models/mnist_classifier_net.ts';

/** Size of the classifier's training split; the other 2,000 digits are held out. */
/** Where the shipped weights live. */
export const CLASSIFIER_WEIGHTS = fileURLToPath(new URL('../assets/mnist_classifier.safetensors', import.meta.url));

/**
 * The classifier with the shipped weights (or those in `file`).
 * @example const clf = await loadMnistClassifier();
 */
export async function loadMnistClassifier(file = CLASSIFIER_WEIGHTS): Promise<MnistClassifier> {
  if (!fs.existsSync(file))
    throw new Error(`${file}: no MNIST classifier weights (make them with \`diffuse eval --train-classifier\`)`);
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
