/**
 * k-diffusion-style samplers on Gaussian data, where everything is known in closed form:
 * data x0 ~ N(0, s^2 I) gives the exact denoiser D(x, sigma) = x s^2 / (s^2 + sigma^2) and the exact
 * probability-flow ODE solution x(sigma) = x(sigma_max) sqrt((s^2 + sigma^2) / (s^2 + sigma_max^2))
 * (EDM eq. 1-3 with sigma(t) = t). Checked: convergence order of each solver (Euler 1, Heun / DPM-2 2,
 * LMS(4) > 2), the marginal variance of the ancestral sampler, agreement with the scheduler classes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { karrasSigmas } from '../../src/schedules/sigmas.ts';
import {
  linearMultistepCoeff,
  sampleDpm2,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
} from '../../src/samplers/k_sampling.ts';
import { EulerDiscreteScheduler } from '../../src/samplers/euler.ts';
import { LMSDiscreteScheduler } from '../../src/samplers/lms.ts';

const S = 1.0; // data std
const denoiser = (x: NDArray, sigma: number) => x.mulScalar((S * S) / (S * S + sigma * sigma));
const SMAX = 10,
  SMIN = 0.05;
const exact = (xT: NDArray, sigma: number) => xT.mulScalar(Math.sqrt((S * S + sigma * sigma) / (S * S + SMAX * SMAX)));

/** Max relative error of the state reached at sigma_min (before the final jump to 0). */
function errAtSigmaMin(sampler: typeof sampleEuler, n: number): number {
  const sigmas = [...karrasSigmas(SMIN, SMAX, n), 0];
  const xT = new NDArray([4], [3, -7, 11.5, 0.25]);
  let atMin: NDArray | null = null;
  sampler(denoiser, xT, sigmas, {
    callback: ({ i, x }) => {
      if (i === n - 1) atMin = x;
    },
  });
  const want = exact(xT, SMIN);
  let e = 0;
  for (let j = 0; j < 4; j++) e = Math.max(e, Math.abs(atMin!.data[j] - want.data[j]) / Math.abs(want.data[j]));
  return e;
}

test('convergence order on the exact Gaussian ODE: Euler ~1, Heun ~2, DPM-2 ~2, LMS(4) > 2', () => {
  const order = (s: typeof sampleEuler, n: number) => Math.log2(errAtSigmaMin(s, n) / errAtSigmaMin(s, 2 * n));
  const oe = order(sampleEuler, 16),
    oh = order(sampleHeun, 16),
    od = order(sampleDpm2, 16),
    ol = order(sampleLms, 16);
  assert.ok(oe > 0.8 && oe < 1.3, `Euler order ${oe}`);
  assert.ok(oh > 1.7 && oh < 2.5, `Heun order ${oh}`);
  assert.ok(od > 1.7 && od < 2.5, `DPM-2 order ${od}`);
  assert.ok(ol > 2.5, `LMS(4) order ${ol}`);
  assert.ok(errAtSigmaMin(sampleHeun, 32) < 5e-3 && errAtSigmaMin(sampleLms, 32) < 1e-3);
});

test('linearMultistepCoeff: integrates the Lagrange basis exactly (coefficients sum to the step length; order 1 = Euler)', () => {
  const s = [10, 6, 3, 1.5, 0.5];
  for (const order of [1, 2, 3, 4]) {
    const i = 3;
    let sum = 0;
    for (let j = 0; j < order; j++) sum += linearMultistepCoeff(order, s, i, j);
    assert.ok(Math.abs(sum - (s[i + 1] - s[i])) < 1e-14, `order ${order}: ${sum}`);
  }
  // order 2 closed form: c0 = h (1 + h / (2 (s_i - s_{i-1}))), c1 = -h^2 / (2 (s_i - s_{i-1})), h = s_{i+1} - s_i
  const h = s[4] - s[3],
    d = s[3] - s[2];
  assert.ok(Math.abs(linearMultistepCoeff(2, s, 3, 0) - h * (1 + h / (2 * d))) < 1e-14);
  assert.ok(Math.abs(linearMultistepCoeff(2, s, 3, 1) + (h * h) / (2 * d)) < 1e-14);
});

/**
 * Variance after ancestral Euler on Gaussian data, exactly: each step is x' = a x + sigma_up z with
 * a = 1 + (sigma_down - sigma) (1 - s^2 / (s^2 + sigma^2)) / sigma, so v' = a^2 v + sigma_up^2.
 */
function ancestralVariance(sigmas: number[]): number {
  let v = S * S + sigmas[0] * sigmas[0];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sd2 = sigmas[i + 1] > 0 ? sigmas[i + 1] ** 4 / sigmas[i] ** 2 : 0; // sigma_down^2 = sigma_next^4 / sigma^2
    const up2 = sigmas[i + 1] ** 2 - sd2;
    const a = 1 + ((Math.sqrt(sd2) - sigmas[i]) / sigmas[i]) * (1 - (S * S) / (S * S + sigmas[i] ** 2));
    v = a * a * v + up2;
  }
  return v;
}

test('ancestral Euler: empirical variance matches the exact per-step recursion, which tends to s^2 (first order)', () => {
  assert.ok(Math.abs(ancestralVariance([...karrasSigmas(0.01, SMAX, 400), 0]) - S * S) < 0.02);
  const n = 4000;
  const g = new TorchGenerator(0);
  const sigmas = [...karrasSigmas(0.01, SMAX, 40), 0];
  const xT = g.normal([n]).mulScalar(Math.sqrt(S * S + SMAX * SMAX));
  const x = sampleEulerAncestral(denoiser, xT, sigmas, { generator: g });
  let m = 0,
    v = 0;
  for (const a of x.data) m += a / n;
  for (const a of x.data) v += (a - m) ** 2 / (n - 1);
  const want = ancestralVariance(sigmas); // 0.85 with 40 steps
  assert.ok(Math.abs(m) < 4 * Math.sqrt(want / n), `mean ${m}`);
  assert.ok(Math.abs(v - want) < 4 * want * Math.sqrt(2 / n), `variance ${v} vs ${want}`);
  // eta = 0 is the deterministic Euler sampler
  const det = sampleEulerAncestral(denoiser, xT, sigmas, { eta: 0 });
  assert.deepEqual(Array.from(det.data), Array.from(sampleEuler(denoiser, xT, sigmas).data));
});

test('churn (EDM Algorithm 2) needs a generator and keeps the marginal variance', () => {
  const sigmas = [...karrasSigmas(0.01, SMAX, 30), 0];
  const g = new TorchGenerator(1);
  const xT = g.normal([3000]).mulScalar(Math.sqrt(S * S + SMAX * SMAX));
  assert.throws(
    () => sampleEuler(denoiser, xT, sigmas, { sChurn: 10 }),
    /sChurn > 0 adds noise and needs opts.generator/,
  );
  const x = sampleHeun(denoiser, xT, sigmas, { sChurn: 10, generator: g });
  let v = 0;
  for (const a of x.data) v += (a * a) / x.size;
  assert.ok(Math.abs(v - S * S) < 0.12, `variance ${v}`);
});

test('functional samplers agree with the scheduler classes (Euler, LMS) on the same sigmas', () => {
  for (const [C, fnSampler] of [
    [EulerDiscreteScheduler, sampleEuler],
    [LMSDiscreteScheduler, sampleLms],
  ] as const) {
    const s = new C({ use_karras_sigmas: true });
    s.setTimesteps(12);
    const sig = Array.from(s.sigmas);
    const xT = new NDArray([1, 3], [1.5, -0.5, 2]).mulScalar(sig[0]);
    // eps model of the VP-trained network: eps = (x - D(x, sigma)) / sigma, with x = x_in * sqrt(sigma^2 + 1)
    let x = xT;
    s.timesteps.forEach((t, i) => {
      const xin = s.scaleModelInput(x, t);
      const xs = xin.mulScalar(Math.sqrt(sig[i] * sig[i] + 1));
      const eps = xs.sub(denoiser(xs, sig[i])).mulScalar(1 / sig[i]);
      x = s.step(eps, t, x).prevSample;
    });
    const y = fnSampler(denoiser, xT, sig);
    for (let j = 0; j < 3; j++)
      assert.ok(
        Math.abs(x.data[j] - y.data[j]) < 1e-5 * (1 + Math.abs(y.data[j])),
        `${C.className} vs functional: ${x.data[j]} vs ${y.data[j]}`,
      );
  }
});

test('bad sigmas and options are rejected with clear errors', () => {
  const x = NDArray.ones([2]);
  assert.throws(() => sampleEuler(denoiser, x, [1]), /sigmas must hold at least 2 noise levels/);
  assert.throws(() => sampleHeun(denoiser, x, [1, -1, 0]), /sigmas\[1\] = -1 is invalid/);
  assert.throws(() => sampleEulerAncestral(denoiser, x, [1, 0.5, 0]), /needs opts.generator/);
  assert.throws(() => sampleLms(denoiser, x, [1, 0], { order: 0 }), /opts.order = 0 must be a positive integer/);
  assert.throws(
    () => sampleDpm2((y) => NDArray.ones([3]), x, [1, 0]),
    /returned \[3\], expected an NDArray of shape \[2\]/,
  );
});
