import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { EpsDivergence } from '../../src/eval/metrics/divergence.ts';
import { gaussianEpsModel, gaussianMixtureEpsModel } from '../../src/eval/metrics/analytic_models.ts';
import { pfOdeLikelihood } from '../../src/eval/metrics/pf_ode_likelihood.ts';
import { meanAndStandardError } from '../../src/eval/metrics/stats.ts';

const LOG_2PI = Math.log(2 * Math.PI);

test('Gaussian data with its exact score: ODE log-likelihood equals the closed form (exact trace and Hutchinson)', async () => {
  // Data N(mu, diag(s^2)). The flow is affine: y_i(sigma) = mu_i + (x0_i - mu_i) sqrt((s_i^2 + sigma^2) / (s_i^2 + sigma_min^2)),
  // and int div = sum_i 1/2 log((s_i^2 + sigma_max^2) / (s_i^2 + sigma_min^2)) (closed forms, not our code).
  const mu = [0.5, -1, 2],
    s = [1, 0.3, 2];
  const sigmaMin = 0.01,
    sigmaMax = 100;
  const model = gaussianEpsModel(mu, s, [sigmaMin, sigmaMax]);
  const x0 = new Philox(3).normal([16, 3]).map((z, i) => mu[i % 3] + s[i % 3] * z);
  const expected = (b: number) => {
    let delta = 0,
      q = 0;
    const yT: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ratio = (s[i] ** 2 + sigmaMax ** 2) / (s[i] ** 2 + sigmaMin ** 2);
      delta += 0.5 * Math.log(ratio);
      const y = mu[i] + (x0.data[b * 3 + i] - mu[i]) * Math.sqrt(ratio);
      yT.push(y);
      q += y * y;
    }
    const prior = -1.5 * (LOG_2PI + Math.log(1 + sigmaMax ** 2)) - (0.5 * q) / (1 + sigmaMax ** 2);
    return { nll: -(prior + delta), yT };
  };
  for (const probes of [0, 1]) {
    // Rademacher probes are exact for a diagonal Jacobian, so Hutchinson must match as well.
    const r = await pfOdeLikelihood(EpsDivergence.create(model, { probes }), x0, { rtol: 1e-7, atol: 1e-7 });
    for (let b = 0; b < 16; b++) {
      const e = expected(b);
      assert.ok(
        Math.abs(r.nll[b] - e.nll) < 2e-4,
        `probes ${probes}, point ${b}: nll ${r.nll[b]} vs closed form ${e.nll}`,
      );
      for (let i = 0; i < 3; i++) {
        assert.ok(Math.abs(r.latent.data[b * 3 + i] - e.yT[i]) < 1e-4 * Math.abs(e.yT[i]) + 1e-3, `latent ${b},${i}`);
      }
    }
    assert.ok(r.nfe > 10 && r.nfe < 2000, `nfe ${r.nfe}`);
    // and the true data NLL -log N(x0; mu, s^2 + sigma_min^2) differs only by the prior mismatch
    // log N(y_T; 0, 1 + sigma_max^2) - log N(y_T; mu, s^2 + sigma_max^2) = O(|mu| |y_T| / sigma_max^2) ~ 0.03 here
    let gap = 0;
    for (let b = 0; b < 16; b++) {
      let lp = 0;
      for (let i = 0; i < 3; i++) {
        const v = s[i] ** 2 + sigmaMin ** 2;
        lp += -0.5 * (LOG_2PI + Math.log(v)) - (x0.data[b * 3 + i] - mu[i]) ** 2 / (2 * v);
      }
      gap = Math.max(gap, Math.abs(r.nll[b] + lp));
    }
    assert.ok(gap < 0.1, `prior mismatch ${gap}`);
  }
});

test('traced mixture eps equals GaussianMixture.epsilon, and its autodiff divergence equals the closed-form Laplacian', async () => {
  const gmm = new GaussianMixture({
    weights: [0.3, 0.5, 0.2],
    means: [
      [-1, 0],
      [1, 0.5],
      [0, -1.5],
    ],
    stds: [0.3, 0.5, 0.2],
  });
  const f = EpsDivergence.create(gaussianMixtureEpsModel(gmm, [0.01, 50]), { probes: 0 });
  const x = new Philox(5).normal([32, 2]);
  for (const sigma of [0.05, 0.7, 3]) {
    const abar = 1 / (1 + sigma * sigma);
    const { eps, div } = await f.evaluate(x, sigma);
    const ref = gmm.epsilon(x, abar);
    for (let i = 0; i < x.size; i++)
      assert.ok(Math.abs(eps.data[i] - ref.data[i]) < 2e-4 * (1 + Math.abs(ref.data[i])), `eps ${i} at sigma ${sigma}`);
    // tr d eps/dx = -sigma sqrt(1+sigma^2) Lap_y log p_sigma(y), Lap = sum_k r_k (|g_k|^2 - d/v_k) - |gbar|^2, g_k = (mu_k - y)/v_k
    for (let b = 0; b < 32; b++) {
      const c = Math.sqrt(1 + sigma * sigma);
      const y = [x.data[2 * b] * c, x.data[2 * b + 1] * c];
      const lk: number[] = [],
        g: number[][] = [],
        v: number[] = [];
      for (let k = 0; k < 3; k++) {
        v[k] = gmm.stds[k] ** 2 + sigma * sigma;
        const dy = [y[0] - gmm.means[2 * k], y[1] - gmm.means[2 * k + 1]];
        lk[k] = Math.log(gmm.weights[k]) - Math.log(2 * Math.PI * v[k]) - (dy[0] ** 2 + dy[1] ** 2) / (2 * v[k]);
        g[k] = [-dy[0] / v[k], -dy[1] / v[k]];
      }
      const mx = Math.max(...lk);
      const z = lk.reduce((a, l) => a + Math.exp(l - mx), 0);
      const r = lk.map((l) => Math.exp(l - mx) / z);
      const gbar = [0, 1].map((i) => r.reduce((a, rk, k) => a + rk * g[k][i], 0));
      let lap = -(gbar[0] ** 2 + gbar[1] ** 2);
      for (let k = 0; k < 3; k++) lap += r[k] * (g[k][0] ** 2 + g[k][1] ** 2 - 2 / v[k]);
      const want = -sigma * c * lap;
      assert.ok(
        Math.abs(div[b] - want) < 1e-3 * (1 + Math.abs(want)),
        `div at sigma ${sigma}, point ${b}: ${div[b]} vs ${want}`,
      );
    }
  }
});

test('Gaussian mixture with its exact eps: ODE NLL equals -log p per point and the true entropy within Monte-Carlo error', async () => {
  const gmm = new GaussianMixture({
    weights: [0.3, 0.25, 0.2, 0.15, 0.1],
    means: [
      [0, 0],
      [2, 2],
      [-2, 2],
      [-2, -2],
      [2, -2],
    ],
    stds: [0.5, 0.3, 0.25, 0.2, 0.35],
  });
  const sigmaMin = 0.002,
    sigmaMax = 80;
  const f = EpsDivergence.create(gaussianMixtureEpsModel(gmm, [sigmaMin, sigmaMax]), { probes: 0 });
  const x0 = gmm.sample(128, new Philox(11));
  const r = await pfOdeLikelihood(f, x0, { rtol: 1e-5, atol: 1e-5 });
  // Per point: -log p_{sigma_min}(x0) corrected by the (exactly known) prior mismatch at sigma_max.
  const lpMin = gmm.logDensity(x0, { sigma: sigmaMin });
  const lpMax = gmm.logDensity(r.latent, { sigma: sigmaMax });
  let worst = 0;
  for (let b = 0; b < 128; b++) {
    const want = -(lpMin[b] + r.priorLogp[b] - lpMax[b]);
    worst = Math.max(worst, Math.abs(r.nll[b] - want));
  }
  assert.ok(worst < 5e-3, `worst per-point error ${worst} nats (solver tolerance 1e-5)`);
  // Entropy: H = E[-log p(x0)] by Monte Carlo over many fresh samples (exact density) vs the mean ODE NLL.
  const big = gmm.sample(20000, new Philox(12));
  const h = meanAndStandardError(Array.from(gmm.logDensity(big), (v) => -v));
  const se = Math.hypot(r.nllMean.se!, h.se!);
  assert.ok(
    Math.abs(r.nllMean.mean - h.mean) < 4 * se,
    `ODE NLL ${r.nllMean.mean} +- ${r.nllMean.se} vs entropy ${h.mean} +- ${h.se}`,
  );

  // Hutchinson (1 Rademacher probe per trajectory): unbiased, so the mean agrees with the exact trace
  // within the standard error of the per-point differences.
  const fh = EpsDivergence.create(gaussianMixtureEpsModel(gmm, [sigmaMin, sigmaMax]), { probes: 1 });
  const rh = await pfOdeLikelihood(fh, x0, { rtol: 1e-5, atol: 1e-5, seed: 4 });
  const diff = meanAndStandardError(Array.from(rh.nll, (v, i) => v - r.nll[i]));
  assert.ok(diff.std! > 1e-3, 'Hutchinson estimates are noisy per point');
  assert.ok(Math.abs(diff.mean) < 4 * diff.se!, `Hutchinson mean difference ${diff.mean} +- ${diff.se}`);
});

test('exact trace refuses high-dimensional samples with advice; bad shapes are named', async () => {
  const big = gaussianEpsModel(new Array(100).fill(0), new Array(100).fill(1), [0.01, 10]);
  assert.throws(() => EpsDivergence.create(big, { probes: 0 }), /exact trace needs 100 backward passes.*Hutchinson/);
  const f = EpsDivergence.create(gaussianEpsModel([0, 0], [1, 1], [0.01, 10]), { probes: 0 });
  await assert.rejects(
    pfOdeLikelihood(f, NDArray.zeros([4, 3])),
    /data of shape \[4, 3\] do not match the model's samples \[N, 2\]/,
  );
  await assert.rejects(pfOdeLikelihood(f, NDArray.zeros([4, 2]), { sigmaMin: 5, sigmaMax: 1 }), /sigmaMin < sigmaMax/);
});
