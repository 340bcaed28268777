/**
 * Scores generated digits [N, 1, 28, 28] in [-1, 1] with the project's MNIST classifier
 * (src/eval/metrics/mnist_classifier.ts): share recognised with > 90% confidence (the measure of issue 4),
 * mean top-class confidence, and FID-MNIST (Fréchet distance of penultimate features to the 8,000
 * training digits; note 64 samples give a biased-high FID, so compare equal-sized sets only).
 */
import type { NDArray } from '../../src/engine/index.ts';
import { FEATURE_DIM, argmax, loadMnistClassifier } from '../../src/eval/metrics/mnist_classifier.ts';
import { mnistReferenceStats } from '../../src/eval/runs/sample_quality.ts';
import { frechetDistance, gaussianStats } from '../../src/eval/metrics/frechet.ts';

export async function scoreDigits(x: NDArray): Promise<Record<string, number>> {
  const clf = await loadMnistClassifier();
  const { probs, features } = await clf.run(x);
  const N = x.shape[0];
  let confident = 0,
    conf = 0;
  for (let i = 0; i < N; i++) {
    const p = probs.data[i * 10 + argmax(probs.data, i * 10, 10)];
    conf += p;
    if (p > 0.9) confident++;
  }
  const fid = frechetDistance(gaussianStats(features.data, FEATURE_DIM), await mnistReferenceStats(clf));
  return { recognised90: confident / N, meanConfidence: conf / N, fidMnist: fid };
}
