/**
 * The consistency schedulers sample the right distribution when driven by an exact consistency model.
 * Reference (closed form, independent of the schedulers' code): for data x0 ~ N(0, s^2) the probability-flow ODE
 * keeps the standardised value x / std(x) fixed, so the consistency function is
 *   VE frame (CM):  f(x, sigma) = x sqrt(s^2 + sigma_min^2) / sqrt(s^2 + sigma^2)
 *   VP frame (LCM): f(x_t, t) = x_t s / sqrt(abar_t s^2 + 1 - abar_t)
 * The CM network answers F = (f - c_skip x) / c_out with Song et al. (2023, App. C)'s boundary coefficients, from
 * the scaled input x / sqrt(sigma^2 + sigma_data^2) and the label 250 ln(sigma) (diffusers' interface); the LCM
 * network answers eps with (x_t - sqrt(1 - abar) eps) / sqrt(abar) = f. Multistep sampling must end at std s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { CMStochasticIterativeScheduler } from '../../src/samplers/cm_stochastic_iterative.ts';
import { LCMScheduler } from '../../src/samplers/lcm.ts';

function meanStd(x: NDArray): { mean: number; std: number } {
  let s = 0,
    q = 0;
  for (const v of x.data) {
    s += v;
    q += v * v;
  }
  const m = s / x.size;
  return { mean: m, std: Math.sqrt(q / x.size - m * m) };
}

const S = 0.5; // data standard deviation
const SHAPE = [5000, 2];

for (const steps of [1, 2, 4]) {
  test(`CMStochasticIterativeScheduler with the exact consistency function of N(0, s^2) samples std s (${steps} steps)`, () => {
    const sigmaMin = 0.002,
      sd = 0.5;
    const s = CMStochasticIterativeScheduler.fromConfig({ clip_denoised: false, sigma_min: sigmaMin, sigma_data: sd });
    s.setTimesteps(steps);
    const F = (xin: NDArray, t: number): NDArray => {
      const sigma = Math.exp(t / 250); // the label is 250 ln(sigma)
      const x = xin.mulScalar(Math.sqrt(sigma * sigma + sd * sd));
      const f = x.mulScalar(Math.sqrt(S * S + sigmaMin * sigmaMin) / Math.sqrt(S * S + sigma * sigma));
      const cSkip = (sd * sd) / ((sigma - sigmaMin) ** 2 + sd * sd);
      const cOut = (sd * (sigma - sigmaMin)) / Math.sqrt(sd * sd + sigma * sigma);
      return f.map((v, i) => (v - cSkip * x.data[i]) / cOut);
    };
    const g = new TorchGenerator(steps);
    let x = g.normal(SHAPE).mulScalar(s.initNoiseSigma);
    for (const t of s.timesteps) x = s.step(F(s.scaleModelInput(x, t), t), t, x, { generator: g }).prevSample;
    const { mean, std } = meanStd(x);
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std / S - 1) < 0.02, `std ${std}, want ${S}`);
  });
}

for (const steps of [1, 2, 4, 8]) {
  test(`LCMScheduler with the exact consistency function of N(0, s^2) samples std s (${steps} steps)`, () => {
    const s = LCMScheduler.fromConfig({});
    s.setTimesteps(steps);
    // scaled_linear betas (diffusers / Stable Diffusion), float64
    const T = 1000,
      a = Math.sqrt(0.00085),
      b = Math.sqrt(0.012);
    const abar: number[] = [];
    let p = 1;
    for (let i = 0; i < T; i++) {
      p *= 1 - (a + ((b - a) * i) / (T - 1)) ** 2;
      abar.push(p);
    }
    const eps = (x: NDArray, t: number): NDArray => {
      const ab = abar[t];
      const k = S / Math.sqrt(ab * S * S + 1 - ab); // f = k x
      return x.map((v) => (v - Math.sqrt(ab) * k * v) / Math.sqrt(1 - ab));
    };
    const g = new TorchGenerator(10 + steps);
    let x = g.normal(SHAPE).mulScalar(s.initNoiseSigma);
    let last: NDArray = x;
    for (const t of s.timesteps) {
      const out = s.step(eps(s.scaleModelInput(x, t), t), t, x, { generator: g });
      x = out.prevSample;
      last = out.denoised;
    }
    assert.equal(x, last, 'the last step returns denoised');
    const { mean, std } = meanStd(x);
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std / S - 1) < 0.02, `std ${std}, want ${S}`);
  });
}
