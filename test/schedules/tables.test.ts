/**
 * Beta / alpha / sigma tables and timestep grids against closed forms and the papers that define them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alphasFromBetas,
  betasFor,
  betasForAlphaBar,
  linearBetas,
  rescaleZeroTerminalSnr,
  scaledLinearBetas,
  sigmoidBetas,
} from '../../src/schedules/betas.ts';
import {
  betaPpf,
  betaSigmas,
  exponentialSigmas,
  karrasSigmas,
  logSigmas,
  luLambdas,
  sigmasFromAlphasCumprod,
  sigmaToT,
} from '../../src/schedules/sigmas.ts';
import { customTimesteps, spacedTimesteps } from '../../src/schedules/timesteps.ts';

const f32 = Math.fround;
const relClose = (a: number, b: number, rtol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rtol * Math.abs(b) + 1e-300, `${what}: ${a} vs ${b}`);

test('linear betas: endpoints beta_start, beta_end and constant increments (DDPM sec. 4)', () => {
  const b = linearBetas(1e-4, 0.02, 1000);
  assert.equal(b[0], f32(1e-4));
  assert.equal(b[999], f32(0.02));
  const step = (0.02 - 1e-4) / 999;
  for (let i = 1; i < 1000; i++) relClose(b[i] - b[i - 1], step, 2e-3, `increment ${i}`);
});

test('scaled_linear betas: sqrt(beta) is linear from sqrt(beta_start) to sqrt(beta_end)', () => {
  const b = scaledLinearBetas(0.00085, 0.012, 1000);
  relClose(b[0], 0.00085, 1e-6, 'first');
  relClose(b[999], 0.012, 1e-6, 'last');
  for (const i of [1, 250, 500, 998])
    relClose(
      Math.sqrt(b[i]),
      Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085)),
      1e-6,
      `sqrt beta ${i}`,
    );
});

test('squaredcos_cap_v2: alphaBar_t = f(t+1)/f(0) with f(t) = cos(((t/T + s)/(1 + s)) pi/2)^2, s = 0.008 (Nichol & Dhariwal eq. 17)', () => {
  const T = 1000;
  const f = (t: number) => Math.cos((((t / T + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  const b = betasForAlphaBar(T);
  const { alphasCumprod } = alphasFromBetas(b);
  for (const t of [0, 1, 100, 500, 900, 980]) relClose(alphasCumprod[t], f(t + 1) / f(0), 2e-5, `alphaBar ${t}`);
  // betas are clipped at 0.999 (iDDPM sec. 3.2) at the very end
  assert.equal(b[T - 1], f32(0.999));
  assert.ok(b.every((x) => x > 0 && x <= f32(0.999)));
});

test('sigmoid betas (GeoDiff): sigmoid(linspace(-6, 6, T)) * (end - start) + start', () => {
  const T = 1000;
  const b = sigmoidBetas(1e-4, 0.02, T);
  for (const i of [0, 1, 499, 500, 999]) {
    const x = -6 + (12 * i) / (T - 1);
    relClose(b[i], (1 / (1 + Math.exp(-x))) * (0.02 - 1e-4) + 1e-4, 1e-6, `beta ${i}`);
  }
});

test('rescaleZeroTerminalSnr: alphaBar_{T-1} = 0 exactly, alphaBar_0 unchanged, sqrt(alphaBar) an affine map of the old one (Lin et al. 2024, Alg. 1)', () => {
  const old = scaledLinearBetas(0.00085, 0.012, 1000);
  const oldAc = alphasFromBetas(old).alphasCumprod;
  const nb = rescaleZeroTerminalSnr(old);
  const ac = alphasFromBetas(nb).alphasCumprod;
  assert.equal(ac[999], 0);
  assert.equal(nb[999], 1);
  relClose(ac[0], oldAc[0], 1e-6, 'alphaBar_0');
  const s0 = Math.sqrt(oldAc[0]),
    sT = Math.sqrt(oldAc[999]);
  for (const t of [1, 100, 500, 900]) {
    relClose(Math.sqrt(ac[t]), ((Math.sqrt(oldAc[t]) - sT) * s0) / (s0 - sT), 1e-5, `sqrt alphaBar ${t}`);
  }
});

test('betasFor: trained_betas win, rescale applies after, bad names are rejected with the allowed list', () => {
  const tb = [0.1, 0.2, 0.3];
  assert.deepEqual(
    Array.from(betasFor({ num_train_timesteps: 3, trained_betas: tb, beta_schedule: 'nope' })),
    tb.map(f32),
  );
  assert.throws(
    () => betasFor({ num_train_timesteps: 10, beta_schedule: 'cosine' }),
    /beta_schedule = "cosine" is not supported; allowed values: 'linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'/,
  );
  assert.throws(() => betasFor({ num_train_timesteps: 0 }), /num_train_timesteps = 0 must be a positive integer/);
});

test('sigmas: sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t) (EDM Table 1, VP) and sigmaToT inverts it at training timesteps', () => {
  const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
  const s = sigmasFromAlphasCumprod(alphasCumprod);
  for (const t of [0, 10, 500, 999])
    relClose(s[t], Math.sqrt((1 - alphasCumprod[t]) / alphasCumprod[t]), 1e-6, `sigma ${t}`);
  const ls = logSigmas(s);
  for (const t of [0, 1, 10, 500, 998, 999])
    assert.ok(Math.abs(sigmaToT(s[t], ls) - t) < 1e-3, `t ${t}: ${sigmaToT(s[t], ls)}`);
  // geometric midpoint of two neighbouring sigmas maps to t + 1/2 (linear interpolation in log sigma)
  assert.ok(Math.abs(sigmaToT(Math.sqrt(s[300] * s[301]), ls) - 300.5) < 1e-3);
  // clamped outside the table
  assert.equal(sigmaToT(1e-12, ls), 0);
  assert.equal(sigmaToT(1e6, ls), 999);
});

test('karrasSigmas: EDM eq. (5), sigma_i^(1/rho) evenly spaced from sigma_max^(1/rho) to sigma_min^(1/rho)', () => {
  const s = karrasSigmas(0.002, 80, 18, 7);
  relClose(s[0], 80, 1e-12, 'sigma_max');
  relClose(s[17], 0.002, 1e-12, 'sigma_min');
  const r = Array.from(s, (x) => x ** (1 / 7));
  for (let i = 1; i < 18; i++) relClose(r[i] - r[i - 1], (0.002 ** (1 / 7) - 80 ** (1 / 7)) / 17, 1e-9, `step ${i}`);
});

test('exponentialSigmas: log sigma evenly spaced; luLambdas: lambda evenly spaced', () => {
  const s = exponentialSigmas(0.1, 10, 5);
  assert.deepEqual(
    Array.from(s, (x) => +Math.log10(x).toFixed(12)),
    [1, 0.5, 0, -0.5, -1],
  );
  assert.deepEqual(Array.from(luLambdas(-4, 4, 5)), [-4, -2, 0, 2, 4]);
});

test('betaSigmas: Beta(0.6, 0.6) quantiles; betaPpf inverts the regularized incomplete beta (symmetric: ppf(1/2) = 1/2; Beta(1,1) is uniform; Beta(2,1) ppf = sqrt(p))', () => {
  assert.ok(Math.abs(betaPpf(0.5, 0.6, 0.6) - 0.5) < 1e-12);
  assert.ok(Math.abs(betaPpf(0.3, 1, 1) - 0.3) < 1e-12);
  assert.ok(Math.abs(betaPpf(0.49, 2, 1) - 0.7) < 1e-12);
  const s = betaSigmas(0.03, 14.6, 7);
  relClose(s[0], 14.6, 1e-12, 'first = sigma_max');
  relClose(s[6], 0.03, 1e-12, 'last = sigma_min');
  relClose(s[3], 0.03 + 0.5 * (14.6 - 0.03), 1e-12, 'middle');
  for (let i = 1; i < 7; i++) assert.ok(s[i] < s[i - 1]);
});

test('timestep spacing reproduces Table 2 of Lin et al. 2024 (T = 1000, 10 steps; 0-based)', () => {
  const T = 1000,
    n = 10;
  assert.deepEqual(
    Array.from(spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: n, spacing: 'linspace', integer: true })),
    [999, 888, 777, 666, 555, 444, 333, 222, 111, 0],
  );
  assert.deepEqual(
    Array.from(spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: n, spacing: 'leading', stepsOffset: 1 })),
    [901, 801, 701, 601, 501, 401, 301, 201, 101, 1],
  );
  assert.deepEqual(
    Array.from(spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: n, spacing: 'trailing' })),
    [999, 899, 799, 699, 599, 499, 399, 299, 199, 99],
  );
  // fractional linspace for sigma-based schedulers; ties round to even for integer ones
  assert.equal(spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: 3, spacing: 'linspace' })[1], 499.5);
  assert.equal(
    spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: 3, spacing: 'linspace', integer: true })[1],
    500,
  );
  assert.throws(
    () => spacedTimesteps({ numTrainTimesteps: T, numInferenceSteps: 10, spacing: 'uniform' }),
    /timestep_spacing = "uniform" is not supported; allowed values: 'linspace', 'leading', 'trailing'/,
  );
});

test('customTimesteps validates order and range', () => {
  assert.deepEqual(Array.from(customTimesteps([999, 500, 0], 1000)), [999, 500, 0]);
  assert.throws(() => customTimesteps([500, 999], 1000), /descending order/);
  assert.throws(() => customTimesteps([1000, 10], 1000), /must start before num_train_timesteps = 1000/);
  assert.throws(() => customTimesteps([10.5, 1], 1000), /must be an integer/);
});
