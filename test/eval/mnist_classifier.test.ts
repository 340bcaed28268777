import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { loadMnistClassifier } from '../../src/eval/metrics/mnist_classifier.ts';
import { mnistSplit } from '../../src/data/mnist.ts';
import { trainMnistClassifier } from '../../src/training/train_mnist_classifier.ts';
import { createSampleMetric } from '../../src/eval/runs/sample_quality.ts';
import type { LoadedModel } from '../../src/pipelines/sample_model.ts';

test('the shipped MNIST classifier: > 96% on the 2,000 held-out digits; FID-MNIST separates real digits from noise', async () => {
  const clf = await loadMnistClassifier();
  const { heldOut } = mnistSplit();
  assert.equal(heldOut.images.shape[0], 2000);
  const { probs, features } = await clf.run(heldOut.images);
  const acc = clf.accuracy(probs, heldOut.labels);
  assert.ok(acc > 0.96, `held-out accuracy ${acc}`);
  assert.deepEqual(features.shape, [2000, 64]);
  // the metric objects on a stand-in "model" of MNIST shape
  const fake = {
    model: { config: { in_channels: 1, sample_size: 28 } },
    info: { data: { spec: 'mnist' } },
  } as unknown as LoadedModel;
  const fid = await createSampleMetric('fid-mnist', fake, { n: 500, classifier: clf });
  const real = await fid.baseline(0);
  const noise = await fid.score(
    new Philox(1).uniform([500, 1, 28, 28]).map((u) => 2 * u - 1),
    0,
  );
  const blank = await fid.score(NDArray.full([500, 1, 28, 28], -1), 0);
  console.log(`FID-MNIST n = 500: held-out real ${real.value}, uniform noise ${noise.value}, blank ${blank.value}`);
  assert.ok(
    real.value < 15,
    `held-out real digits vs training statistics: FID ${real.value} (finite-n bias at n = 500)`,
  );
  assert.ok(
    noise.value > 20 * real.value && blank.value > 20 * real.value,
    `noise ${noise.value}, blank ${blank.value}, real ${real.value}`,
  );
  assert.ok(real.extra!.confidence > 0.95);
  const conf = await createSampleMetric('confidence', fake, { n: 500, classifier: clf });
  assert.ok((await conf.baseline(0)).value > 0.95);
  const accm = await createSampleMetric('accuracy', fake, { n: 500, classifier: clf });
  assert.ok((await accm.baseline(1)).value > 0.95);
  await assert.rejects(accm.score(heldOut.images, 0), /needs a class-conditional model/);
});

test('classifier training is deterministic (same seed -> identical weights)', async () => {
  const a = await trainMnistClassifier({ limit: 200, epochs: 1, batchSize: 50 });
  const b = await trainMnistClassifier({ limit: 200, epochs: 1, batchSize: 50 });
  for (const k of Object.keys(a)) assert.deepEqual(a[k].data, b[k].data, k);
  const c = await trainMnistClassifier({ limit: 200, epochs: 1, batchSize: 50, seed: 1 });
  assert.notDeepEqual(a['fc2.weight'].data, c['fc2.weight'].data);
});
