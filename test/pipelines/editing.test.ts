/**
 * img2img, DDIM inversion, slerp and masks against closed forms: the exact eps of Gaussian mixtures is
 * the model (GaussianMixture.epsilonModel), so the expected answers are known without a trained network.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { ksStatistic, mixtureCdf1d } from '../../src/data/gmm_conditional.ts';
import { defaultGaussianMixture } from '../../src/data/toy2d.ts';
import { schedulerFromConfig, type BetaScheduler } from '../../src/samplers/index.ts';
import { img2img, img2imgTimesteps } from '../../src/pipelines/img2img.ts';
import { ddimDecode, ddimInvert, inversionSchedulers, reconstructionMse } from '../../src/pipelines/invert.ts';
import { interpolationPath, slerp } from '../../src/pipelines/interpolate.ts';
import {
  broadcastMask,
  knownCoordinatesMask,
  maskFromImage,
  maskFromMissing,
  parseRegion,
  rectangleMask,
} from '../../src/pipelines/mask.ts';
import { readMaskImage } from '../../src/pipelines/mask_file.ts';
import { writePng } from '../../src/io/png.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CFG = { num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 };
const modelOf = (g: GaussianMixture, s: BetaScheduler) => {
  const eps = g.epsilonModel(s.alphasCumprod);
  return async (x: NDArray, t: Float32Array) => eps(x, t[0]);
};

test('img2imgTimesteps: diffusers get_timesteps (init = int(n * s), start = n - init)', () => {
  const s = schedulerFromConfig('DDIMScheduler', CFG);
  s.setTimesteps(50); // leading: 980, 960, ..., 0
  const r = img2imgTimesteps(s, 50, 0.6);
  assert.equal(r.startIndex, 20);
  assert.equal(r.timesteps[0], 980 - 20 * 20);
  assert.equal(r.timesteps.length, 30);
  assert.equal(img2imgTimesteps(s, 50, 0).timesteps.length, 0);
  assert.equal(img2imgTimesteps(s, 50, 1).timesteps.length, 50);
  assert.throws(() => img2imgTimesteps(s, 50, 1.5), /--strength 1.5: expected a number in \[0, 1\]/);
});

test('img2img on the exact GMM model: strength 0 is the identity; data in -> data distribution out (KS per coordinate)', async () => {
  const gmm = defaultGaussianMixture();
  const s = schedulerFromConfig('DDPMScheduler', { ...CFG, clip_sample: false }) as BetaScheduler;
  const x0 = gmm.sample(2000, new Philox(1));
  const same = await img2img(modelOf(gmm, s), s, { image: x0, strength: 0, steps: 50, generator: new Philox(2) });
  assert.deepEqual(Array.from(same.data), Array.from(x0.data));
  for (const strength of [0.3, 0.8]) {
    const out = await img2img(modelOf(gmm, s), s, { image: x0, strength, steps: 100, generator: new Philox(3) });
    let moved = 0;
    for (let i = 0; i < out.size; i++) moved += (out.data[i] - x0.data[i]) ** 2;
    assert.ok(moved / out.size > 1e-3, 'the input changed');
    for (const j of [0, 1]) {
      // the marginal of coordinate j is the 1-D mixture of the components' j-th means
      const marg = new GaussianMixture({
        weights: gmm.weights,
        means: Array.from({ length: gmm.numComponents }, (_, k) => [gmm.means[2 * k + j]]),
        stds: gmm.stds,
      });
      const ks = ksStatistic(
        Array.from({ length: 2000 }, (_, i) => out.data[2 * i + j]),
        (v) => mixtureCdf1d(marg, v),
      );
      assert.ok(ks < 1.95 / Math.sqrt(2000), `strength ${strength}, coordinate ${j}: KS ${ks}`);
    }
  }
});

test('img2img with a step-index scheduler (Euler, begin index set) keeps the data distribution (KS)', async () => {
  const gmm = defaultGaussianMixture();
  const s = schedulerFromConfig('EulerDiscreteScheduler', { ...CFG }) as BetaScheduler;
  const x0 = gmm.sample(2000, new Philox(4));
  const out = await img2img(modelOf(gmm, s), s, { image: x0, strength: 0.6, steps: 50, generator: new Philox(5) });
  const marg = new GaussianMixture({
    weights: gmm.weights,
    means: Array.from({ length: gmm.numComponents }, (_, k) => [gmm.means[2 * k]]),
    stds: gmm.stds,
  });
  const ks = ksStatistic(
    Array.from({ length: 2000 }, (_, i) => out.data[2 * i]),
    (v) => mixtureCdf1d(marg, v),
  );
  assert.ok(ks < 1.95 / Math.sqrt(2000), `KS ${ks}`);
});

test('DDIM inversion of a Gaussian converges at first order to the exact probability-flow map; decode reconstructs', async () => {
  // data N(mu, s^2 I): the probability-flow ODE maps x0 to sqrt(abar) mu + sqrt(abar s^2 + 1 - abar) (x0 - mu) / s
  const mu = [0.5, -1],
    sd = 0.3;
  const g = new GaussianMixture({ weights: [1], means: [mu], stds: sd });
  const { ddim } = inversionSchedulers(CFG);
  const model = modelOf(g, ddim);
  const x0 = g.sample(200, new Philox(0));
  const errs: number[] = [],
    mses: number[] = [];
  for (const steps of [50, 100, 200]) {
    const z = await ddimInvert(model, CFG, x0, { steps });
    const a = ddim.alphasCumprod[(steps - 1) * Math.floor(1000 / steps)];
    const v = Math.sqrt(a * sd * sd + 1 - a);
    let err = 0;
    for (let i = 0; i < z.size; i++)
      err = Math.max(err, Math.abs(z.data[i] - (Math.sqrt(a) * mu[i % 2] + (v * (x0.data[i] - mu[i % 2])) / sd)));
    errs.push(err);
    mses.push(reconstructionMse(x0, await ddimDecode(model, CFG, z, { steps })));
  }
  assert.ok(errs[2] < 0.1, `max error at 200 steps ${errs[2]}`);
  for (let i = 1; i < 3; i++) {
    const ratio = errs[i - 1] / errs[i];
    assert.ok(ratio > 1.7 && ratio < 2.3, `halving the step halves the error (first order): ratio ${ratio}`);
    assert.ok(mses[i] < mses[i - 1], `reconstruction improves with steps: ${mses}`);
  }
  assert.ok(mses[2] < 1e-3, `reconstruction MSE ${mses[2]}`);
});

test('slerp: ends, orthogonal midpoint (a + b) / sqrt 2, equal norms kept along the path', () => {
  const a = new NDArray([1, 3], [1, 0, 0]),
    b = new NDArray([1, 3], [0, 1, 0]);
  assert.deepEqual(Array.from(slerp(a, b, 0).data), [1, 0, 0]);
  const mid = slerp(a, b, 0.5).data;
  assert.ok(Math.abs(mid[0] - Math.SQRT1_2) < 1e-6 && Math.abs(mid[1] - Math.SQRT1_2) < 1e-6 && mid[2] === 0);
  const z0 = new Philox(1).normal([1, 64]),
    z1 = new Philox(2).normal([1, 64]).mulScalar(1);
  const n0 = Math.hypot(...z0.data),
    n1 = Math.hypot(...z1.data);
  const path = interpolationPath(z0, z1, 5);
  assert.deepEqual(path.shape, [5, 64]);
  assert.deepEqual(Array.from(path.data.subarray(256)), Array.from(z1.data));
  // for |a| = |b| every point has that norm; here the norms differ, so the norm moves monotonically between them
  const norms = [0, 1, 2, 3, 4].map((i) => Math.hypot(...path.data.subarray(64 * i, 64 * (i + 1))));
  for (let i = 1; i < 5; i++) assert.ok((norms[i] - norms[i - 1]) * (n1 - n0) >= -1e-4, `norms ${norms}`);
  const u = new NDArray([4], [3, 4, 0, 0]),
    w = new NDArray([4], [0, 0, 5, 0]);
  assert.ok(Math.abs(Math.hypot(...slerp(u, w, 0.3).data) - 5) < 1e-5);
  assert.throws(() => interpolationPath(z0, z1, 1), /--interpolate 1/);
});

test('masks: regions, known coordinates, missing values, PNG convention, broadcast', () => {
  assert.deepEqual(parseRegion('lower-half', 28, 28), { x: 0, y: 14, width: 28, height: 14 });
  const m = rectangleMask([1, 4, 4], '1,2,2,1');
  assert.deepEqual(Array.from(m.data), [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.throws(
    () => rectangleMask([1, 4, 4], '3,3,2,2'),
    /--region "3,3,2,2": the rectangle must lie inside the 4x4 image/,
  );
  assert.throws(() => parseRegion('bottom', 4, 4), /x,y,w,h .* or one of lower-half/);
  assert.deepEqual(Array.from(knownCoordinatesMask(4, [0, 2]).data), [1, 0, 1, 0]);
  assert.throws(() => knownCoordinatesMask(2, [2]), /--known 2: column index out of range; expected integers in 0..1/);
  const { mask, known } = maskFromMissing(new NDArray([1, 3], [1, Number.NaN, 3]));
  assert.deepEqual(Array.from(mask.data), [1, 0, 1]);
  assert.deepEqual(Array.from(known.data), [1, 0, 3]);
  // white = fill in (0), black = keep (1); invert swaps
  assert.deepEqual(Array.from(maskFromImage(new NDArray([1, 1, 2], [1, 0])).data), [0, 1]);
  assert.deepEqual(
    Array.from(maskFromImage(new NDArray([1, 2], [1, 0]), { invert: true, channels: 2 }).data),
    [1, 0, 1, 0],
  );
  assert.deepEqual(broadcastMask(new NDArray([2], [1, 0]), [3, 2]).shape, [3, 2]);
  assert.throws(() => broadcastMask(new NDArray([3], [1, 0, 1]), [3, 2]), /fits neither the batch/);
});

test('readMaskImage: a 56x56 PNG, white lower half, becomes the 28x28 mask with the lower half to fill', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-mask-'));
  try {
    const f = path.join(dir, 'm.png');
    writePng(
      f,
      new NDArray([1, 56, 56]).map((_, i) => (Math.floor(i / 56) >= 28 ? 1 : 0)),
      { range: '[0,1]' },
    );
    const m = readMaskImage(f, [3, 28, 28]);
    assert.deepEqual(m.shape, [3, 28, 28]);
    assert.deepEqual(Array.from(m.data), Array.from(rectangleMask([3, 28, 28], 'lower-half').data));
    assert.throws(() => readMaskImage(path.join(dir, 'none.png'), [1, 28, 28]), /--mask .*none.png: no such file/);
    assert.throws(() => readMaskImage(f, [2]), /mask images are for image models/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
