/**
 * The MNIST digit classifier's network and its inference wrapper, without Node-only imports (the
 * browser playground classifies drawn and generated digits with it). Training, the data split and
 * loading the shipped weights from disk are in mnist_classifier.ts, which re-exports everything here.
 *
 * @example
 *   const clf = new MnistClassifier(weights);                    // weights: Record<string, NDArray>
 *   const { probs } = await clf.run(images);                     // images [N, 1, 28, 28] in [-1, 1]
 */
import { NDArray, compile, flatten, relu, softmax, trace, type Executable, type Value } from '../engine/index.ts';
import { Module, withParams } from '../nn/module.ts';
import { Conv2d } from '../nn/conv2d.ts';
import { Linear } from '../nn/linear.ts';

/** Width of the penultimate features (FID-MNIST's feature space). */
export const FEATURE_DIM = 64;

/** The network (see the module doc). */
export class MnistClassifierNet extends Module {
  readonly conv1 = this.child('conv1', new Conv2d(1, 16, 3, { stride: 2, padding: 1 }));
  readonly conv2 = this.child('conv2', new Conv2d(16, 32, 3, { stride: 2, padding: 1 }));
  readonly fc1 = this.child('fc1', new Linear(32 * 7 * 7, FEATURE_DIM));
  readonly fc2 = this.child('fc2', new Linear(FEATURE_DIM, 10));

  /** x [B, 1, 28, 28] -> { features [B, 64], logits [B, 10] }. */
  forward(x: Value): { features: Value; logits: Value } {
    const h = relu(this.conv2.forward(relu(this.conv1.forward(x))));
    const features = relu(this.fc1.forward(flatten(h, 1)));
    return { features, logits: this.fc2.forward(features) };
  }
}

/** The classifier with fixed weights: probabilities and features of image batches. */
export class MnistClassifier {
  private readonly cache = new Map<number, Promise<Executable>>();
  readonly net = new MnistClassifierNet();
  constructor(readonly weights: Record<string, NDArray>) {}

  /**
   * Class probabilities [N, 10] and penultimate features [N, 64] of images [N, 1, 28, 28] in [-1, 1].
   * @example const { probs, features } = await clf.run(samples);
   */
  async run(images: NDArray, batchSize = 500): Promise<{ probs: NDArray; features: NDArray }> {
    if (images.ndim !== 4 || images.shape[1] !== 1 || images.shape[2] !== 28 || images.shape[3] !== 28) {
      throw new Error(`MnistClassifier: expected images [N, 1, 28, 28], got [${images.shape.join(', ')}]`);
    }
    const N = images.shape[0];
    const probs = new NDArray([N, 10]),
      features = new NDArray([N, FEATURE_DIM]);
    for (let start = 0; start < N; start += batchSize) {
      const B = Math.min(batchSize, N - start);
      let exe = this.cache.get(B);
      if (!exe) {
        exe = compile(
          trace(
            (x: Value) =>
              withParams(this.net, this.weights, () => {
                const { features: f, logits } = this.net.forward(x);
                return { probs: softmax(logits, 1), features: f };
              }),
            [{ name: 'x', shape: [B, 1, 28, 28] }],
          ),
        );
        this.cache.set(B, exe);
      }
      const x = new NDArray([B, 1, 28, 28], images.data.subarray(start * 784, (start + B) * 784));
      const [p, f] = await (await exe).run({ x });
      probs.data.set(p.data, start * 10);
      features.data.set(f.data, start * FEATURE_DIM);
    }
    return { probs, features };
  }

  /** Fraction of rows whose arg-max class equals the label. @example clf.accuracy(probs, labels) */
  accuracy(probs: NDArray, labels: ArrayLike<number>): number {
    const N = probs.shape[0];
    let ok = 0;
    for (let i = 0; i < N; i++) if (argmax(probs.data, i * 10, 10) === labels[i]) ok++;
    return ok / N;
  }
}

/** Index of the largest of a[o .. o+n-1] relative to o. */
export function argmax(a: ArrayLike<number>, o: number, n: number): number {
  let best = 0;
  for (let k = 1; k < n; k++) if (a[o + k] > a[o + best]) best = k;
  return best;
}
