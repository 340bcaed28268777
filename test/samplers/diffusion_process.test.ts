/**
 * src/diffusion: forward process, parameterisation conversions, thresholding and DDPM variances,
 * against closed forms (DDPM eq. 4, 7; v = alpha eps - sigma x0; score = -eps / sigma; Imagen sec. 2.3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { addNoise, getVelocity, forwardCoefficients } from '../../src/diffusion/forward.ts';
import {
  epsToScore,
  epsToX0,
  epsX0ToV,
  predictionToEps,
  predictionToV,
  predictionToX0,
  scoreToEps,
  vToEps,
  vToX0,
  x0ToEps,
} from '../../src/diffusion/parameterization.ts';
import { clipSample, dynamicThreshold } from '../../src/diffusion/thresholding.ts';
import { ddpmVariance, posteriorVariance } from '../../src/diffusion/variance.ts';
import { alphasFromBetas, linearBetas } from '../../src/schedules/betas.ts';

const f32 = Math.fround;
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

const x0 = new NDArray([2, 3], [0.5, -1, 0.25, 2, -0.75, 0.125]);
const eps = new NDArray([2, 3], [1, 0.5, -2, -0.25, 1.5, 0.75]);
const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));

test('addNoise: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps per batch element (DDPM eq. 4)', () => {
  const xt = addNoise(x0, eps, alphasCumprod, [10, 700]);
  for (let i = 0; i < 6; i++) {
    const a = alphasCumprod[i < 3 ? 10 : 700];
    assert.ok(Math.abs(xt.data[i] - (Math.sqrt(a) * x0.data[i] + Math.sqrt(1 - a) * eps.data[i])) < 1e-6);
  }
  // one timestep for the whole batch
  assert.deepEqual(
    Array.from(addNoise(x0, eps, alphasCumprod, 10).data),
    Array.from(addNoise(x0, eps, alphasCumprod, [10, 10]).data),
  );
  assert.throws(() => addNoise(x0, eps, alphasCumprod, [1, 2, 3]), /got 3 values for a batch of 2/);
  assert.throws(
    () => addNoise(x0, eps, alphasCumprod, 1000),
    /not a valid training timestep; expected an integer in \[0, 999\]/,
  );
});

test('getVelocity: v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho 2022) and v -> (x0, eps) round trip', () => {
  const t = [250, 900];
  const v = getVelocity(x0, eps, alphasCumprod, t);
  const xt = addNoise(x0, eps, alphasCumprod, t);
  const { sqrtAlphaProd: a, sqrtOneMinusAlphaProd: s } = forwardCoefficients(alphasCumprod, t);
  for (let i = 0; i < 6; i++) {
    const b = i < 3 ? 0 : 1;
    assert.ok(Math.abs(v.data[i] - (a[b] * eps.data[i] - s[b] * x0.data[i])) < 1e-6);
  }
  close(vToX0(xt, v, a, s).data, x0.data, 1e-5, 'x0 from v');
  close(vToEps(xt, v, a, s).data, eps.data, 1e-5, 'eps from v');
  close(epsX0ToV(eps, x0, a, s).data, v.data, 1e-6, 'v from (eps, x0)');
});

test('conversions eps <-> x0 <-> v <-> score round-trip (alpha^2 + sigma^2 = 1)', () => {
  const alpha = f32(Math.sqrt(0.36)),
    sigma = f32(Math.sqrt(0.64));
  const xt = x0.map((v, i) => alpha * v + sigma * eps.data[i]);
  const x0hat = epsToX0(xt, eps, alpha, sigma);
  close(x0hat.data, x0.data, 2e-6, 'eps -> x0');
  close(x0ToEps(xt, x0hat, alpha, sigma).data, eps.data, 1e-5, 'x0 -> eps');
  for (const type of ['epsilon', 'sample', 'v_prediction']) {
    const out = type === 'epsilon' ? eps : type === 'sample' ? x0 : epsX0ToV(eps, x0, alpha, sigma);
    close(predictionToX0(out, type, xt, alpha, sigma).data, x0.data, 1e-5, `${type} -> x0`);
    close(predictionToEps(out, type, xt, alpha, sigma).data, eps.data, 1e-5, `${type} -> eps`);
    close(predictionToV(out, type, xt, alpha, sigma).data, epsX0ToV(eps, x0, alpha, sigma).data, 1e-5, `${type} -> v`);
  }
  const score = epsToScore(eps, sigma);
  close(
    score.data,
    Array.from(eps.data, (e) => -e / sigma),
    1e-6,
    'score = -eps / sigma',
  );
  close(scoreToEps(score, sigma).data, eps.data, 1e-6, 'score -> eps');
  assert.throws(
    () => predictionToX0(eps, 'noise', xt, alpha, sigma),
    /prediction_type = "noise" is not supported; allowed values: 'epsilon', 'sample', 'v_prediction'/,
  );
});

test('eps -> x0 -> eps is exact when x0 is not rounded away (power-of-two coefficients)', () => {
  const alpha = 0.5,
    sigma = 0.25;
  const xt = new NDArray([1, 4], [1, -2, 0.5, 3]);
  const e = new NDArray([1, 4], [0.5, 1, -1, 2]);
  assert.deepEqual(Array.from(x0ToEps(xt, epsToX0(xt, e, alpha, sigma), alpha, sigma).data), Array.from(e.data));
});

test('clipSample clamps to [-r, r]; dynamicThreshold is Imagen sec. 2.3 (s = percentile of |x0| per sample, clamped to [1, max])', () => {
  assert.deepEqual(Array.from(clipSample(x0, 0.5).data), [0.5, -0.5, 0.25, 0.5, -0.5, 0.125]);
  // sample 0: |x| = 0..99 / 10 -> 99.5% percentile by linear interpolation = 9.8505; clamped to max 4 -> s = 4
  const row = Array.from({ length: 100 }, (_, i) => ((i % 2 ? -1 : 1) * i) / 10);
  const x = new NDArray([2, 1, 100], [...row, ...row.map((v) => v / 100)]);
  const y = dynamicThreshold(x, 0.995, 4);
  for (let i = 0; i < 100; i++) {
    assert.ok(Math.abs(y.data[i] - Math.max(-4, Math.min(4, row[i])) / 4) < 1e-7);
    // sample 1 has s < 1 -> clamped to 1: plain clipping to [-1, 1], values unchanged
    assert.ok(Math.abs(y.data[100 + i] - f32(row[i] / 100)) < 1e-7);
  }
  // with a large max: s = percentile itself = 9.8 + 0.505 * 0.1 (rank 0.995 * 99 = 98.505)
  const z = dynamicThreshold(x, 0.995, 100);
  assert.ok(Math.abs(z.data[99] - -1) < 1e-6, `-9.9 clamped to -s, divided by s: ${z.data[99]}`);
  assert.ok(Math.abs(z.data[50] - 5.0 / 9.8505) < 1e-6, `5.0 / s: ${z.data[50]}`);
});

test('DDPM variances: posterior variance (DDPM eq. 7), beta, logs, learned_range interpolation (iDDPM eq. 15)', () => {
  const at = 0.5,
    ap = 0.6;
  const beta = 1 - at / ap;
  const post = ((1 - ap) / (1 - at)) * beta;
  assert.ok(Math.abs(posteriorVariance(at, ap) - post) < 1e-7);
  assert.ok(Math.abs((ddpmVariance('fixed_small', at, ap) as number) - post) < 1e-7);
  assert.ok(Math.abs((ddpmVariance('fixed_small_log', at, ap) as number) - Math.sqrt(post)) < 1e-7);
  assert.ok(Math.abs((ddpmVariance('fixed_large', at, ap) as number) - beta) < 1e-7);
  assert.ok(Math.abs((ddpmVariance('fixed_large_log', at, ap) as number) - Math.log(beta)) < 1e-6);
  const pv = new NDArray([3], [-1, 0, 1]);
  const lr = ddpmVariance('learned_range', at, ap, pv) as NDArray;
  close(lr.data, [Math.log(post), 0.5 * (Math.log(post) + Math.log(beta)), Math.log(beta)], 1e-6, 'learned_range');
  assert.equal(ddpmVariance('learned', at, ap, pv), pv);
  // t = 0: alphaBar_prev = 1 -> posterior variance 0, clamped to 1e-20 (diffusers takes its log)
  assert.equal(posteriorVariance(alphasCumprod[0], 1), f32(1e-20));
  assert.throws(
    () => ddpmVariance('fixed', at, ap),
    /variance_type = "fixed" is not supported; allowed values: 'fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log', 'learned', 'learned_range'/,
  );
  assert.throws(() => ddpmVariance('learned_range', at, ap), /needs the model's predicted variance/);
});
