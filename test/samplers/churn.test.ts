/**
 * churnAt: the churn rule of Karras et al. (2022), Algorithm 2 lines 4-6, against the paper's formulas worked by
 * hand: gamma = min(S_churn / N, sqrt(2) - 1) inside [S_tmin, S_tmax], sigma_hat = sigma (1 + gamma), and the
 * added noise std sqrt(sigma_hat^2 - sigma^2). (The full samplers using it are checked against diffusers' and
 * k-diffusion's own runs in diffusers_sigma_fixtures / k_sampling_oracle.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { churnAt } from '../../src/samplers/churn.ts';

test('churnAt: gamma capped at sqrt(2) - 1, sigma_hat = sqrt(2) sigma, noise std = sigma (float64)', () => {
  const c = churnAt(10, 18, { sChurn: 40 }); // 40 / 18 > sqrt(2) - 1
  assert.equal(c.gamma, Math.SQRT2 - 1);
  assert.ok(Math.abs(c.sigmaHat - 10 * Math.SQRT2) < 1e-12);
  assert.ok(Math.abs(c.noiseStd - 10) < 1e-12); // sqrt(200 - 100)
});

test('churnAt: gamma = S_churn / N below the cap; none outside [S_tmin, S_tmax] or with S_churn = 0', () => {
  const c = churnAt(2, 20, { sChurn: 4 }); // gamma = 0.2
  assert.ok(Math.abs(c.gamma - 0.2) < 1e-15);
  assert.ok(Math.abs(c.sigmaHat - 2.4) < 1e-12);
  assert.ok(Math.abs(c.noiseStd - Math.sqrt(2.4 * 2.4 - 4)) < 1e-12);
  assert.deepEqual(churnAt(2, 20, { sChurn: 4, sTmax: 1 }), { gamma: 0, sigmaHat: 2, noiseStd: 0 });
  assert.deepEqual(churnAt(2, 20, { sChurn: 4, sTmin: 3 }), { gamma: 0, sigmaHat: 2, noiseStd: 0 });
  assert.deepEqual(churnAt(2, 20, {}), { gamma: 0, sigmaHat: 2, noiseStd: 0 });
});

test("churnAt with Math.fround: every scalar is a float32 (diffusers' torch float32 scalars)", () => {
  const c = churnAt(10, 18, { sChurn: 40 }, Math.fround);
  assert.equal(c.sigmaHat, Math.fround(10 * Math.fround(Math.SQRT2)));
  assert.equal(Math.fround(c.noiseStd), c.noiseStd);
  assert.ok(Math.abs(c.noiseStd - 10) < 1e-5);
});
