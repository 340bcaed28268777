/**
 * denoiserFor splits a batch above its micro-batch into near-equal ONNX Runtime runs; every item is
 * denoised on its own (per-sample GroupNorm, attention within one image), so the result must be the
 * batch run at once, for class-conditional U-Nets and MLPs, for fixed weights and weights as inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { modelConfig, modelFromConfig } from '../../src/models/registry.ts';
import { estimateModelResources, sampleChunkSize } from '../../src/models/resources.ts';
import { denoiserFor, denoiserWithWeightInputs, microBatches } from '../../src/pipelines/denoiser.ts';
import { tinyUnet } from './_tiny_unet.ts';

test('microBatches: near-equal runs of at most the micro-batch, covering the batch', () => {
  assert.deepEqual(microBatches(256, 33), [32, 32, 32, 32, 32, 32, 32, 32]);
  assert.deepEqual(microBatches(101, 33), [26, 25, 25, 25]);
  assert.deepEqual(microBatches(10, 33), [10]);
  assert.deepEqual(microBatches(7, 1), [1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(microBatches(5, Number.POSITIVE_INFINITY), [5]);
  for (const [n, m] of [
    [1000, 7],
    [33, 33],
    [34, 33],
  ]) {
    const s = microBatches(n, m);
    assert.equal(
      s.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(Math.max(...s) <= m && Math.max(...s) - Math.min(...s) <= 1, `${n}/${m}: ${s}`);
  }
  assert.throws(() => microBatches(4, 0), /microBatch must be at least 1/);
});

test('the default micro-batch is the config-only sampling chunk (unet-s: 33 images)', () => {
  assert.equal(sampleChunkSize(estimateModelResources(modelConfig('unet-s'))), 33);
});

const maxDiff = (a: NDArray, b: NDArray): number => {
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
};

test('a class-conditional U-Net in micro-batches of 3 gives the whole batch of 7 (fixed weights and weights as inputs)', async () => {
  const model = tinyUnet();
  const weights = model.initParams(new Philox(3));
  const rng = new Philox(4);
  const x = rng.normal([7, 1, 8, 8]);
  const t = Float32Array.from([0, 100, 250, 400, 600, 800, 999]);
  const labels = Float32Array.from([0, 1, 2, 0, 1, 2, 0]);
  const whole = await denoiserFor(model, weights, { microBatch: Number.POSITIVE_INFINITY })(x, t, labels);
  const parts = await denoiserFor(model, weights, { microBatch: 3 })(x, t, labels);
  assert.ok(maxDiff(whole, parts) <= 1e-5, `max |diff| ${maxDiff(whole, parts)}`);
  // Item 5 alone is row 5 of the batch (each item on its own).
  const one = await denoiserFor(model, weights)(
    new NDArray([1, 1, 8, 8], x.data.slice(5 * 64, 6 * 64)),
    t.slice(5, 6),
    labels.slice(5, 6),
  );
  const row5 = new NDArray([1, 1, 8, 8], whole.data.slice(5 * 64, 6 * 64));
  assert.ok(maxDiff(one, row5) <= 1e-5);
  const asInputs = await denoiserWithWeightInputs(model, { microBatch: 3 })(weights)(x, t, labels);
  assert.ok(maxDiff(whole, asInputs) <= 1e-5, `weights as inputs: ${maxDiff(whole, asInputs)}`);
  await assert.rejects(denoiserFor(model, weights, { microBatch: 3 })(x, t), /class-conditional; pass class labels/);
});

test('an MLP denoiser in micro-batches of 4 gives the whole batch of 10', async () => {
  const model = modelFromConfig(modelConfig('mlp-2d'));
  const weights = model.initParams(new Philox(5));
  const x = new Philox(6).normal([10, 2]);
  const t = Float32Array.from({ length: 10 }, (_, i) => 90 * i);
  const whole = await denoiserFor(model, weights, { microBatch: Number.POSITIVE_INFINITY })(x, t);
  const parts = await denoiserFor(model, weights, { microBatch: 4 })(x, t);
  assert.ok(maxDiff(whole, parts) <= 1e-5, `max |diff| ${maxDiff(whole, parts)}`);
});
