import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { loadMnist, mnistBytes } from '../../src/data/mnist.ts';

// The package's own API (an independent reader of the same files) as the reference.
const pkg = createRequire(import.meta.url)('mnist') as { [d: number]: { length: number; get(i: number): number[] } };

test('10,000 labelled 28x28 digits; per-digit counts equal the package API', () => {
  const t0 = performance.now();
  const { images, labels } = loadMnist();
  const ms = performance.now() - t0;
  assert.deepEqual(images.shape, [10000, 1, 28, 28]);
  assert.equal(labels.length, 10000);
  const counts = new Array(10).fill(0);
  for (const l of labels) counts[l]++;
  assert.deepEqual(
    counts,
    Array.from({ length: 10 }, (_, d) => pkg[d].length),
  );
  assert.ok(ms < 5000, `first load took ${ms} ms`);
  const t1 = performance.now();
  loadMnist();
  assert.ok(performance.now() - t1 < ms, 'second load is served from the cache');
});

test('pixels equal the package values: round-robin order, [-1,1] = 2 v - 1 to within rounding', () => {
  const { images, labels } = loadMnist({ limit: 40 });
  assert.deepEqual([...labels.subarray(0, 20)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let j = 0; j < 40; j++) {
    const ref = pkg[labels[j]].get(Math.floor(j / 10));
    for (let p = 0; p < 784; p++) {
      const got = images.data[j * 784 + p];
      assert.ok(Math.abs(got - (2 * ref[p] - 1)) <= 0.0011, `image ${j} pixel ${p}: ${got} vs ${2 * ref[p] - 1}`);
    }
  }
  const bytes = mnistBytes();
  for (let p = 0; p < 784; p++) assert.equal(bytes.pixels[p], Math.round(pkg[0].get(0)[p] * 255));
  assert.ok(images.data.every((v) => v >= -1 && v <= 1));
});

test('digits filter, range [0,1], limit and option errors', () => {
  const { images, labels } = loadMnist({ digits: [3, 8], limit: 100, range: '[0,1]' });
  assert.equal(labels.length, 100);
  assert.ok(labels.every((l) => l === 3 || l === 8));
  assert.ok(images.data.every((v) => v >= 0 && v <= 1));
  assert.equal(loadMnist({ digits: [5] }).labels.length, pkg[5].length);
  assert.throws(() => loadMnist({ digits: [10] }), /digits contains 10; allowed digits are 0\.\.9/);
  assert.throws(() => loadMnist({ limit: -1 }), /limit = -1/);
  assert.throws(() => loadMnist({ range: '[0,255]' as never }), /range = "\[0,255\]" is not supported/);
});
