/**
 * The closed-form Gaussian-mixture oracle (src/data/gaussian_mixture.ts) and what it tells us about
 * the samplers.
 *
 * 1. The oracle itself against closed forms: log-density vs the direct mixture formula, score vs central
 *    finite differences of the log-density, eps* and the denoiser vs the single-Gaussian formulas
 *    (Tweedie), the abar -> 1 and abar -> 0 limits, sample moments vs the exact mixture moments.
 * 2. Every scheduler class (and the functional k-samplers) driven by the exact eps* / denoiser from pure
 *    noise must reproduce the mixture: mean and covariance within 4.5 standard errors (n = 2000) and an RBF
 *    MMD^2 (median-heuristic bandwidth, first 1000 samples) to fresh mixture samples within 3x the average
 *    MMD^2 between fresh sets. DDIMInverse must map mixture samples to N(0, I) (and DDIM back).
 * 3. Measured convergence order of the probability-flow ODE solvers (DDIM, DPM-Solver++ 2M/3M, UniPC p=2/3,
 *    Heun) against an independent RK4 reference of the same ODE (4000 steps in log sigma).
 * No golden values from our own code: every expected value is a closed form or the mixture itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { Philox } from '../../src/engine/rng.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import * as S from '../../src/samplers/index.ts';
import { karrasSigmas } from '../../src/schedules/sigmas.ts';

// ----------------------------------------------------------------------------------------------
// helpers

function close(a: number, b: number, rtol: number, atol: number, what: string): void {
  if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b)))
    assert.fail(`${what}: got ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`);
}

/** Direct (non-log-sum-exp) mixture log-density: log sum_k w_k (2 pi s_k^2)^(-d/2) exp(-|x - mu_k|^2 / (2 s_k^2)). */
function directLogDensity(w: number[], mu: number[][], s: number[], x: number[]): number {
  let p = 0;
  const wsum = w.reduce((a, b) => a + b, 0);
  for (let k = 0; k < w.length; k++) {
    let q = 0;
    for (let i = 0; i < x.length; i++) q += (x[i] - mu[k][i]) ** 2;
    p += (w[k] / wsum) * (2 * Math.PI * s[k] * s[k]) ** (-x.length / 2) * Math.exp(-q / (2 * s[k] * s[k]));
  }
  return Math.log(p);
}

/** Sample mean and covariance of rows of x [n, d] (float64). */
function moments(x: NDArray): { mean: Float64Array; cov: Float64Array } {
  const [n, d] = x.shape;
  const mean = new Float64Array(d),
    cov = new Float64Array(d * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += x.data[r * d + i] / n;
  for (let r = 0; r < n; r++)
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        cov[i * d + j] += ((x.data[r * d + i] - mean[i]) * (x.data[r * d + j] - mean[j])) / (n - 1);
      }
  return { mean, cov };
}

/** Standard errors of the sample mean and covariance entries for n draws, estimated from a large reference sample. */
function standardErrors(ref: NDArray, n: number): { seMean: Float64Array; seCov: Float64Array } {
  const [m, d] = ref.shape;
  const { mean, cov } = moments(ref);
  const seMean = new Float64Array(d),
    seCov = new Float64Array(d * d);
  for (let i = 0; i < d; i++) seMean[i] = Math.sqrt(cov[i * d + i] / n);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let r = 0; r < m; r++)
        v += ((ref.data[r * d + i] - mean[i]) * (ref.data[r * d + j] - mean[j]) - cov[i * d + j]) ** 2 / (m - 1);
      seCov[i * d + j] = Math.sqrt(v / n);
    }
  return { seMean, seCov };
}

/** Sum of exp(-|x_a - y_b|^2 / (2 h^2)) over all pairs (or over a < b when `self`). */
function kernelSum(x: NDArray, y: NDArray, h: number, self: boolean): number {
  const d = x.shape[1],
    nx = x.shape[0],
    ny = y.shape[0];
  const g = -1 / (2 * h * h);
  let s = 0;
  for (let a = 0; a < nx; a++) {
    for (let b = self ? a + 1 : 0; b < ny; b++) {
      let q = 0;
      for (let i = 0; i < d; i++) {
        const diff = x.data[a * d + i] - y.data[b * d + i];
        q += diff * diff;
      }
      s += Math.exp(g * q);
    }
  }
  return s;
}

/** Biased (V-statistic) squared MMD with an RBF kernel of bandwidth h (Gretton et al. 2012, eq. 5). */
function mmd2(x: NDArray, y: NDArray, h: number, kyy?: number): number {
  const nx = x.shape[0],
    ny = y.shape[0];
  const kxx = (2 * kernelSum(x, x, h, true) + nx) / (nx * nx);
  const kyyv = kyy ?? (2 * kernelSum(y, y, h, true) + ny) / (ny * ny);
  return kxx + kyyv - (2 * kernelSum(x, y, h, false)) / (nx * ny);
}

/** Median heuristic: the median pairwise distance of (a subset of) the rows of x. */
function medianDistance(x: NDArray, m = 400): number {
  const d = x.shape[1];
  const dist: number[] = [];
  for (let a = 0; a < m; a++)
    for (let b = a + 1; b < m; b++) {
      let q = 0;
      for (let i = 0; i < d; i++) q += (x.data[a * d + i] - x.data[b * d + i]) ** 2;
      dist.push(Math.sqrt(q));
    }
  dist.sort((p, q) => p - q);
  return dist[dist.length >> 1];
}

// ----------------------------------------------------------------------------------------------
// 1. the oracle against closed forms

const W3 = [0.2, 0.5, 0.3];
const MU3 = [
  [-1, 0.5, 0],
  [1, -0.25, 0.5],
  [0, 1, -1],
];
const S3 = [0.3, 0.5, 0.8];
const gmm3 = new GaussianMixture({ weights: W3, means: MU3, stds: S3 });

test('logDensity equals the direct mixture formula', () => {
  const pts = [
    [-1, 0.5, 0],
    [0.3, -0.2, 0.1],
    [1.5, 1, -1.25],
    [0, 0, 0],
  ];
  const got = gmm3.logDensity(NDArray.from(pts));
  // x is stored as float32: evaluate the direct formula at the float32 values
  pts.forEach((p, i) =>
    close(got[i], directLogDensity(W3, MU3, S3, p.map(Math.fround)), 1e-12, 1e-12, `logDensity at ${p}`),
  );
  // weights are normalised: scaling them changes nothing
  const scaled = new GaussianMixture({ weights: W3.map((w) => 7 * w), means: MU3, stds: S3 });
  close(scaled.logDensity(NDArray.from([pts[1]]))[0], got[1], 1e-14, 0, 'normalised weights');
  // a noised marginal is again a mixture: VP {alphaBar} = means sqrt(a) mu, variances a s^2 + 1 - a
  const a = 0.37;
  const vp = gmm3.logDensity(NDArray.from([pts[2]]), { alphaBar: a })[0];
  close(
    vp,
    directLogDensity(
      W3,
      MU3.map((m) => m.map((v) => Math.sqrt(a) * v)),
      S3.map((s) => Math.sqrt(a * s * s + 1 - a)),
      pts[2],
    ),
    1e-12,
    1e-12,
    'VP marginal',
  );
  const ve = gmm3.logDensity(NDArray.from([pts[2]]), { sigma: 0.9 })[0];
  close(
    ve,
    directLogDensity(
      W3,
      MU3,
      S3.map((s) => Math.sqrt(s * s + 0.81)),
      pts[2],
    ),
    1e-12,
    1e-12,
    'VE marginal',
  );
});

test('logDensity is stable far from every mode (log-sum-exp), where the direct sum underflows', () => {
  const x = [40, -35, 60];
  assert.equal(directLogDensity(W3, MU3, S3, x), -Infinity); // what the naive formula gives
  // one component: the exact Gaussian log-pdf
  const g1 = new GaussianMixture({ weights: [1], means: [[1, 2, 3]], stds: 0.05 });
  const q = (40 - 1) ** 2 + (-35 - 2) ** 2 + (60 - 3) ** 2;
  close(
    g1.logDensity(NDArray.from([x]))[0],
    -1.5 * Math.log(2 * Math.PI * 0.0025) - q / (2 * 0.0025),
    1e-14,
    0,
    'single Gaussian far away',
  );
  // two identical components = one
  const g2 = new GaussianMixture({
    weights: [0.3, 0.7],
    means: [
      [1, 2, 3],
      [1, 2, 3],
    ],
    stds: [0.05, 0.05],
  });
  close(g2.logDensity(NDArray.from([x]))[0], g1.logDensity(NDArray.from([x]))[0], 1e-14, 0, 'duplicate components');
  const far = gmm3.logDensity(NDArray.from([x]))[0];
  assert.ok(Number.isFinite(far) && far < -1e3, `finite log-density far away, got ${far}`);
  const sc = gmm3.score(NDArray.from([x])).data;
  // far away the widest component (s = 0.8) dominates: score = (mu_2 - x) / 0.64
  sc.forEach((v, i) => close(v, (MU3[2][i] - x[i]) / 0.64, 1e-6, 0, `far score[${i}]`));
});

test('score equals central finite differences of logDensity (data, VP and VE levels)', () => {
  const h = 2 ** -10;
  const pts = [
    [-0.75, 0.5, 0.25],
    [0.5, 0.25, -0.5],
    [1.25, -0.5, 0.75],
  ];
  for (const level of [undefined, { alphaBar: 0.6 }, { alphaBar: 0.05 }, { sigma: 0.7 }, { sigma: 3 }] as const) {
    for (const p of pts) {
      const sc = gmm3.score(NDArray.from([p]), level).data;
      for (let i = 0; i < 3; i++) {
        const xp = p.slice(),
          xm = p.slice();
        xp[i] += h;
        xm[i] -= h;
        const fd =
          (gmm3.logDensity(NDArray.from([xp]), level)[0] - gmm3.logDensity(NDArray.from([xm]), level)[0]) / (2 * h);
        close(sc[i], fd, 2e-5, 2e-5, `score[${i}] at ${p} level ${JSON.stringify(level)}`);
      }
    }
  }
});

test('eps* and the denoiser equal the single-Gaussian closed forms (Tweedie)', () => {
  const mu = [0.5, -1],
    s = 0.4;
  const g = new GaussianMixture({ weights: [1], means: [mu], stds: s });
  const x = NDArray.from([
    [0.3, 0.2],
    [-2, 1.5],
  ]);
  for (const a of [0.999, 0.7, 0.2, 0.01]) {
    const eps = g.epsilon(x, a).data;
    const v = a * s * s + 1 - a;
    for (let r = 0; r < 2; r++)
      for (let i = 0; i < 2; i++) {
        // eps* = sqrt(1 - a) (x - sqrt(a) mu) / (a s^2 + 1 - a)
        close(
          eps[r * 2 + i],
          (Math.sqrt(1 - a) * (x.data[r * 2 + i] - Math.sqrt(a) * mu[i])) / v,
          2e-6,
          1e-7,
          `eps a=${a}`,
        );
      }
  }
  for (const sigma of [0.05, 0.4, 2, 30]) {
    const d = g.denoise(x, { sigma }).data;
    for (let r = 0; r < 2; r++)
      for (let i = 0; i < 2; i++) {
        // E[x0 | x] = mu + s^2 / (s^2 + sigma^2) (x - mu)
        close(
          d[r * 2 + i],
          mu[i] + ((s * s) / (s * s + sigma * sigma)) * (x.data[r * 2 + i] - mu[i]),
          2e-6,
          1e-7,
          `denoise sigma=${sigma}`,
        );
      }
  }
});

test('VP and VE views agree: D(x, sigma) = x - sigma eps*(x / sqrt(1 + sigma^2), 1 / (1 + sigma^2))', () => {
  const x = NDArray.from([
    [0.3, -0.7, 1.1],
    [2, 0.1, -0.4],
  ]);
  for (const sigma of [0.1, 0.8, 5]) {
    const a = 1 / (1 + sigma * sigma);
    const viaEps = x.sub(gmm3.epsilon(x.mulScalar(Math.sqrt(a)), a).mulScalar(sigma));
    const d = gmm3.denoiser()(x, sigma);
    d.data.forEach((v, i) => close(v, viaEps.data[i], 3e-6, 3e-6, `sigma=${sigma} [${i}]`));
    // the VP denoiser at the same level gives the same E[x0 | x]
    const dvp = gmm3.denoise(x.mulScalar(Math.sqrt(a)), { alphaBar: a });
    d.data.forEach((v, i) => close(dvp.data[i], v, 3e-6, 3e-6, `VP denoise sigma=${sigma} [${i}]`));
  }
});

test('eps* limits: abar -> 1 gives sqrt(1-abar) (x - mu_k) / s_k^2 near mode k, abar -> 0 gives x', () => {
  const x = NDArray.from([
    [-1.1, 0.6, 0.05],
    [0.9, -0.2, 0.45],
  ]); // near modes 0 and 1
  assert.deepEqual(Array.from(gmm3.epsilon(x, 1).data), [0, 0, 0, 0, 0, 0]);
  const a = 1 - 1e-8;
  const eps = gmm3.epsilon(x, a).data;
  for (let r = 0; r < 2; r++) {
    // limit: sqrt(1 - abar) sum_k r_k(x) (x - mu_k) / s_k^2, responsibilities r_k of the data density (direct formula)
    const xr = Array.from(x.data.slice(r * 3, r * 3 + 3));
    const dens = W3.map(
      (w, k) =>
        w *
        (2 * Math.PI * S3[k] ** 2) ** -1.5 *
        Math.exp(-xr.reduce((q, v, i) => q + (v - MU3[k][i]) ** 2, 0) / (2 * S3[k] ** 2)),
    );
    const tot = dens.reduce((p, q) => p + q, 0);
    for (let i = 0; i < 3; i++) {
      const lim =
        Math.sqrt(1 - a) * dens.reduce((acc, dk, k) => acc + ((dk / tot) * (xr[i] - MU3[k][i])) / S3[k] ** 2, 0);
      close(eps[r * 3 + i], lim, 1e-5, 1e-12, `abar->1 row ${r}[${i}]`);
    }
  }
  const e0 = gmm3.epsilon(x, 1e-10).data;
  x.data.forEach((v, i) => close(e0[i], v, 1e-4, 1e-5, `abar->0 [${i}]`));
  // per-row alphaBar equals one call per row
  const perRow = gmm3.epsilon(x, [0.3, 0.8]).data;
  const r0 = gmm3.epsilon(NDArray.from([Array.from(x.data.slice(0, 3))]), 0.3).data;
  const r1 = gmm3.epsilon(NDArray.from([Array.from(x.data.slice(3))]), 0.8).data;
  assert.deepEqual(Array.from(perRow), [...r0, ...r1]);
});

test('epsilonModel indexes alphasCumprod by t and interpolates log sigma between entries', () => {
  const table = Float32Array.from([0.99, 0.9, 0.5, 0.1]);
  const model = gmm3.epsilonModel(table);
  const x = NDArray.from([[0.2, -0.4, 0.9]]);
  for (let t = 0; t < 4; t++)
    assert.deepEqual(Array.from(model(x, t).data), Array.from(gmm3.epsilon(x, table[t]).data));
  const s1 = Math.sqrt((1 - table[1]) / table[1]),
    s2 = Math.sqrt((1 - table[2]) / table[2]);
  const sMid = Math.exp(0.75 * Math.log(s1) + 0.25 * Math.log(s2));
  assert.deepEqual(Array.from(model(x, 1.25).data), Array.from(gmm3.epsilon(x, 1 / (1 + sMid * sMid)).data));
  const lin = gmm3.epsilonModel(table, { interpolation: 'linear_sigma' });
  const sLin = 0.75 * s1 + 0.25 * s2;
  assert.deepEqual(Array.from(lin(x, 1.25).data), Array.from(gmm3.epsilon(x, 1 / (1 + sLin * sLin)).data));
  assert.deepEqual(Array.from(model(x, Float32Array.from([2])).data), Array.from(model(x, 2).data));
  assert.throws(() => model(x, 4), /timestep 4 is outside \[0, 3\]/);
  assert.throws(
    () => gmm3.epsilonModel(table, { interpolation: 'cubic' as 'log_sigma' }),
    /interpolation = "cubic".*allowed: 'log_sigma', 'linear_sigma'/,
  );
});

test('sample() reproduces the exact mixture mean and covariance within 4 standard errors', () => {
  const n = 20000;
  const x = gmm3.sample(n, new Philox(11));
  assert.deepEqual(x.shape, [n, 3]);
  const { mean, cov } = moments(x);
  const em = gmm3.mean(),
    ec = gmm3.covariance();
  const { seMean, seCov } = standardErrors(gmm3.sample(n, new Philox(12)), n);
  for (let i = 0; i < 3; i++) close(mean[i], em[i], 0, 4 * seMean[i], `mean[${i}]`);
  for (let i = 0; i < 9; i++) close(cov[i], ec[i], 0, 4 * seCov[i], `cov[${i}]`);
  // same seed, same samples
  assert.deepEqual(Array.from(gmm3.sample(5, new Philox(3)).data), Array.from(gmm3.sample(5, new Philox(3)).data));
});

test('bad input is rejected with the key, the value and what is allowed', () => {
  assert.throws(
    () => new GaussianMixture({ weights: [1, -1], means: [[0], [1]], stds: 1 }),
    /weights\[1\] = -1 is invalid; it must be a finite number > 0/,
  );
  assert.throws(
    () => new GaussianMixture({ weights: [1, 1], means: [[0]], stds: 1 }),
    /means has 1 rows but weights has 2/,
  );
  assert.throws(
    () => new GaussianMixture({ weights: [1, 1], means: [[0, 1], [1]], stds: 1 }),
    /means\[1\] has length 1, expected d = 2/,
  );
  assert.throws(() => new GaussianMixture({ weights: [1], means: [[0]], stds: [0] }), /stds\[0\] = 0 is invalid/);
  assert.throws(
    () => new GaussianMixture({ weights: [1, 2], means: [[0], [1]], stds: [1] }),
    /stds has 1 values but there are 2 components/,
  );
  assert.throws(
    () => gmm3.score(NDArray.from([[1, 2]])),
    /x has shape \[1, 2\]; expected \[d\] or \[n, \.\.\.\] with 3 values per row/,
  );
  assert.throws(() => gmm3.epsilon(NDArray.from([[1, 2, 3]]), 1.5), /alphaBar = 1.5 must be in \[0, 1\]/);
  assert.throws(
    () => gmm3.denoise(NDArray.from([[1, 2, 3]]), { sigma: -1 }),
    /sigma = -1 must be a finite number >= 0/,
  );
  assert.throws(() => gmm3.sample(2.5, new Philox(0)), /n = 2.5 must be a non-negative integer/);
});

// ----------------------------------------------------------------------------------------------
// 2. every sampler, driven by the exact model, reproduces the mixture

const N = 2000;
/** MMD uses the first N_MMD rows (O(n^2) kernel sums; keeps the file fast). */
const N_MMD = 1000;
const gmm8 = GaussianMixture.onCircle({
  components: 8,
  radius: 2,
  stds: [0.2, 0.25, 0.3, 0.2, 0.25, 0.3, 0.2, 0.25],
  weights: [1, 2, 1, 2, 1, 2, 1, 2],
});
const fresh = gmm8.sample(N_MMD, new Philox(101));
const bandwidth = medianDistance(fresh);
const kyyFresh = (2 * kernelSum(fresh, fresh, bandwidth, true) + N_MMD) / (N_MMD * N_MMD);
/** MMD^2 between fresh mixture samples and `fresh`, averaged over 4 independent sets (the sampling-error scale). */
const mmdBaseline =
  [102, 103, 105, 106].reduce(
    (acc, seed) => acc + mmd2(gmm8.sample(N_MMD, new Philox(seed)), fresh, bandwidth, kyyFresh),
    0,
  ) / 4;
const { seMean: SE_MEAN, seCov: SE_COV } = standardErrors(gmm8.sample(20000, new Philox(104)), N);
const EXACT_MEAN = gmm8.mean(),
  EXACT_COV = gmm8.covariance();

const results: string[] = [];
/**
 * Tolerance in standard errors for the ~200 mean/covariance checks of this file: 4.5 SE keeps the chance of a
 * false alarm anywhere in the file near 1e-3 (Bonferroni). Step counts are chosen so that each sampler's
 * discretisation bias stays below about 1 SE (checked over 6 seed sets while writing this test; the largest
 * |z| seen in 630 draws was 3.7).
 */
const Z = 4.5;

function checkReproducesMixture(name: string, x: NDArray): void {
  assert.deepEqual(x.shape, [N, 2], `${name}: shape`);
  for (const v of x.data) if (!Number.isFinite(v)) assert.fail(`${name}: non-finite sample ${v}`);
  const { mean, cov } = moments(x);
  const m = mmd2(new NDArray([N_MMD, 2], x.data.subarray(0, 2 * N_MMD)), fresh, bandwidth, kyyFresh);
  results.push(
    `${name.padEnd(44)} mean (${mean[0].toFixed(3)}, ${mean[1].toFixed(3)})  cov (${cov[0].toFixed(3)}, ${cov[1].toFixed(3)}, ${cov[3].toFixed(3)})  MMD^2/baseline ${(m / mmdBaseline).toFixed(2)}`,
  );
  for (let i = 0; i < 2; i++) close(mean[i], EXACT_MEAN[i], 0, Z * SE_MEAN[i], `${name}: mean[${i}]`);
  for (let i = 0; i < 4; i++) close(cov[i], EXACT_COV[i], 0, Z * SE_COV[i], `${name}: cov[${i}]`);
  assert.ok(
    m <= 3 * mmdBaseline,
    `${name}: MMD^2 ${m.toExponential(3)} exceeds 3x the fresh-vs-fresh MMD^2 ${mmdBaseline.toExponential(3)}`,
  );
}

/** Run a scheduler class from pure noise with the exact eps model (the pipeline loop of the ModelFn contract). */
function runScheduler(
  make: () => S.Scheduler & { alphasCumprod: Float32Array },
  steps: number,
  seed: number,
  stochastic: boolean,
  stepOpts: S.StepOptions = {},
): NDArray {
  const s = make();
  const model = gmm8.epsilonModel(s.alphasCumprod);
  s.setTimesteps(steps);
  let x = new Philox(seed).normal([N, 2]).mulScalar(s.initNoiseSigma);
  const opts: S.StepOptions = { ...stepOpts, ...(stochastic ? { generator: new Philox(seed + 5000) } : {}) };
  for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x, opts).prevSample;
  return x;
}

const CASES: {
  name: string;
  make: () => S.Scheduler & { alphasCumprod: Float32Array };
  steps: number;
  stochastic?: boolean;
  opts?: S.StepOptions;
}[] = [
  {
    name: 'DDPMScheduler (200 steps)',
    make: () => S.DDPMScheduler.fromConfig({ clip_sample: false }),
    steps: 200,
    stochastic: true,
  },
  {
    name: 'DDIMScheduler (eta 0, 100 steps)',
    make: () => S.DDIMScheduler.fromConfig({ clip_sample: false }),
    steps: 100,
  },
  {
    name: 'DDIMScheduler (eta 1, 200 steps)',
    make: () => S.DDIMScheduler.fromConfig({ clip_sample: false, timestep_spacing: 'trailing' }),
    steps: 200,
    stochastic: true,
    opts: { eta: 1 },
  },
  { name: 'PNDMScheduler (PRK+PLMS, 40 steps)', make: () => S.PNDMScheduler.fromConfig({}), steps: 40 },
  {
    name: 'PNDMScheduler (skip_prk, 25 steps)',
    make: () => S.PNDMScheduler.fromConfig({ skip_prk_steps: true }),
    steps: 25,
  },
  {
    name: 'DPMSolverMultistep dpmsolver++ 2M (20)',
    make: () => S.DPMSolverMultistepScheduler.fromConfig({}),
    steps: 20,
  },
  {
    name: 'DPMSolverMultistep dpmsolver++ 3M (30)',
    make: () => S.DPMSolverMultistepScheduler.fromConfig({ solver_order: 3 }),
    steps: 30,
  },
  {
    name: 'DPMSolverMultistep dpmsolver 2 heun (20)',
    make: () =>
      S.DPMSolverMultistepScheduler.fromConfig({
        algorithm_type: 'dpmsolver',
        solver_type: 'heun',
        final_sigmas_type: 'sigma_min',
      }),
    steps: 20,
  },
  {
    name: 'DPMSolverMultistep sde-dpmsolver++ (80)',
    make: () => S.DPMSolverMultistepScheduler.fromConfig({ algorithm_type: 'sde-dpmsolver++' }),
    steps: 80,
    stochastic: true,
  },
  {
    name: 'DPMSolverMultistep karras 2M (40)',
    make: () => S.DPMSolverMultistepScheduler.fromConfig({ use_karras_sigmas: true }),
    steps: 40,
  },
  {
    name: 'DPMSolverSinglestep dpmsolver++ 2S (40)',
    make: () => S.DPMSolverSinglestepScheduler.fromConfig({}),
    steps: 40,
  },
  {
    name: 'DPMSolverSinglestep order 3 (21)',
    make: () => S.DPMSolverSinglestepScheduler.fromConfig({ solver_order: 3 }),
    steps: 21,
  },
  { name: 'UniPCMultistep bh2 (20)', make: () => S.UniPCMultistepScheduler.fromConfig({}), steps: 20 },
  {
    name: 'UniPCMultistep bh1 order 3 (20)',
    make: () => S.UniPCMultistepScheduler.fromConfig({ solver_type: 'bh1', solver_order: 3 }),
    steps: 20,
  },
  { name: 'DEISMultistep order 2 (30)', make: () => S.DEISMultistepScheduler.fromConfig({}), steps: 30 },
  { name: 'EulerDiscrete (150)', make: () => S.EulerDiscreteScheduler.fromConfig({}), steps: 150 },
  {
    name: 'EulerDiscrete karras (250)',
    make: () => S.EulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true }),
    steps: 250,
  },
  {
    name: 'EulerAncestralDiscrete (200)',
    make: () => S.EulerAncestralDiscreteScheduler.fromConfig({}),
    steps: 200,
    stochastic: true,
  },
  {
    name: 'HeunDiscrete (25)',
    make: () => S.HeunDiscreteScheduler.fromConfig({ beta_start: 0.0001, beta_end: 0.02 }),
    steps: 25,
  },
  {
    name: 'KDPM2Discrete (25)',
    make: () => S.KDPM2DiscreteScheduler.fromConfig({ beta_start: 0.0001, beta_end: 0.02 }),
    steps: 25,
  },
  { name: 'LMSDiscrete (30)', make: () => S.LMSDiscreteScheduler.fromConfig({}), steps: 30 },
];

for (const [idx, c] of CASES.entries()) {
  test(`${c.name}: samples with the exact eps* reproduce the mixture`, () => {
    checkReproducesMixture(c.name, runScheduler(c.make, c.steps, 1000 + idx, !!c.stochastic, c.opts));
  });
}

test('DDIMInverseScheduler (200 steps) maps mixture samples to N(0, I) and DDIM maps them back', () => {
  const inv = S.DDIMInverseScheduler.fromConfig({ clip_sample: false, timestep_spacing: 'trailing' });
  const model = gmm8.epsilonModel(inv.alphasCumprod);
  inv.setTimesteps(200);
  const NI = 1000;
  const x0 = gmm8.sample(NI, new Philox(201));
  let x = x0;
  for (const tt of inv.timesteps) x = inv.step(model(x, tt), tt, x).prevSample;
  const { mean, cov } = moments(x);
  // N(0, I): SE of the mean 1/sqrt(n), of a variance sqrt(2/n), of a covariance 1/sqrt(n)
  const se = 1 / Math.sqrt(NI);
  for (let i = 0; i < 2; i++) close(mean[i], 0, 0, 4 * se, `inverted mean[${i}]`);
  close(cov[0], 1, 0, 4 * Math.SQRT2 * se, 'inverted var[0]');
  close(cov[3], 1, 0, 4 * Math.SQRT2 * se, 'inverted var[1]');
  close(cov[1], 0, 0, 4 * se, 'inverted cov[0,1]');
  const gauss = new Philox(202).normal([NI, 2]);
  const hN = medianDistance(gauss);
  const base =
    [203, 204, 205, 206].reduce((acc, seed) => acc + mmd2(new Philox(seed).normal([NI, 2]), gauss, hN), 0) / 4;
  const m = mmd2(x, gauss, hN);
  results.push(
    `${'DDIMInverseScheduler (200, data -> noise)'.padEnd(44)} mean (${mean[0].toFixed(3)}, ${mean[1].toFixed(3)})  cov (${cov[0].toFixed(3)}, ${cov[1].toFixed(3)}, ${cov[3].toFixed(3)})  MMD^2/baseline ${(m / base).toFixed(2)}`,
  );
  assert.ok(
    m <= 3 * base,
    `inverted samples: MMD^2 to N(0, I) ${m.toExponential(3)} > 3x baseline ${base.toExponential(3)}`,
  );
  // round trip with DDIM on the mirrored grid: back to the data within the ODE discretisation error
  const ddim = S.DDIMScheduler.fromConfig({
    clip_sample: false,
    timestep_spacing: 'trailing',
    set_alpha_to_one: false,
  });
  ddim.setTimesteps(200);
  for (const tt of ddim.timesteps) x = ddim.step(model(x, tt), tt, x).prevSample;
  let err = 0;
  for (let i = 0; i < x.size; i++) err += (x.data[i] - x0.data[i]) ** 2;
  err = Math.sqrt(err / NI);
  results.push(`DDIMInverse(200) then DDIM(200): RMS round-trip error ${err.toExponential(2)}`);
  assert.ok(err < 0.05, `round-trip RMS error ${err} >= 0.05`);
});

// functional k-diffusion samplers with the exact denoiser D(x, sigma) = E[x0 | x] and karras sigmas
const K_SIGMAS = [...karrasSigmas(0.01, 80, 30), 0];
const K_CASES: { name: string; run: (x: NDArray, g: Philox) => NDArray }[] = [
  { name: 'sampleEuler', run: (x) => S.sampleEuler(gmm8.denoiser(), x, [...karrasSigmas(0.01, 80, 100), 0]) },
  {
    name: 'sampleEulerAncestral',
    run: (x, g) => S.sampleEulerAncestral(gmm8.denoiser(), x, [...karrasSigmas(0.01, 80, 100), 0], { generator: g }),
  },
  { name: 'sampleHeun', run: (x) => S.sampleHeun(gmm8.denoiser(), x, K_SIGMAS) },
  { name: 'sampleDpm2', run: (x) => S.sampleDpm2(gmm8.denoiser(), x, K_SIGMAS) },
  { name: 'sampleLms', run: (x) => S.sampleLms(gmm8.denoiser(), x, K_SIGMAS) },
  { name: 'sampleDpmpp2m', run: (x) => S.sampleDpmpp2m(gmm8.denoiser(), x, K_SIGMAS) },
  {
    name: 'sampleDpmpp2sAncestral',
    run: (x, g) => S.sampleDpmpp2sAncestral(gmm8.denoiser(), x, [...karrasSigmas(0.01, 80, 80), 0], { generator: g }),
  },
  {
    name: 'sampleDpmpp2mSde',
    run: (x, g) => S.sampleDpmpp2mSde(gmm8.denoiser(), x, [...karrasSigmas(0.01, 80, 80), 0], { generator: g }),
  },
  {
    name: 'sampleDpmpp3mSde',
    run: (x, g) => S.sampleDpmpp3mSde(gmm8.denoiser(), x, [...karrasSigmas(0.01, 80, 80), 0], { generator: g }),
  },
];
for (const [idx, c] of K_CASES.entries()) {
  test(`${c.name} (k-diffusion, exact denoiser): samples reproduce the mixture`, () => {
    const x = new Philox(2000 + idx).normal([N, 2]).mulScalar(80);
    checkReproducesMixture(`${c.name} (karras)`, c.run(x, new Philox(7000 + idx)));
  });
}

// ----------------------------------------------------------------------------------------------
// 3. convergence order of the probability-flow ODE solvers

test('convergence order: higher-order ODE solvers reach a given error with fewer model evaluations than DDIM', () => {
  // A schedule with lambda = log(alpha / sigma) linear in t (lambda from log 100 down to -log 150), passed as
  // trained_betas: the 'trailing' grid 999, 999 - r, ..., r - 1, then sigma(0) is then (nearly) uniform in
  // lambda, so every solver is in its asymptotic regime. (With the linear beta schedule sigma(t) ~ sqrt(t)
  // near t = 0 and the last step stays large in lambda, which hides the higher orders.)
  const T = 1000,
    lamMax = Math.log(100),
    lamMin = -Math.log(150);
  const betas: number[] = [];
  let prevA = 1;
  for (let i = 0; i < T; i++) {
    const lam = lamMax + ((lamMin - lamMax) * i) / (T - 1);
    const a = 1 / (1 + Math.exp(-2 * lam));
    betas.push(1 - a / prevA);
    prevA = a;
  }
  const base = { trained_betas: betas };
  const M = 48;
  const zT = new Philox(77).normal([M, 2]);
  const ac = S.DDIMScheduler.fromConfig(base).alphasCumprod;
  const sigmaOf = (i: number): number => Math.sqrt((1 - ac[i]) / ac[i]);
  const sMax = sigmaOf(999),
    sMin = sigmaOf(0);
  // reference: RK4 in u = log sigma on dx/du = x - D(x, sigma) (VE frame, EDM eq. 3), 4000 steps, from
  // x(sigma_max) = z sqrt(1 + sigma_max^2) (the VP x_T = z) down to sigma_min; compared in the VP frame.
  const D = gmm8.denoiser();
  const f = (x: Float64Array, u: number): Float64Array => {
    const d = D(new NDArray([M, 2], Float32Array.from(x)), Math.exp(u)).data;
    return x.map((v, i) => v - d[i]);
  };
  const steps = 4000,
    u0 = Math.log(sMax),
    hU = (Math.log(sMin) - u0) / steps;
  let y = Float64Array.from(zT.data, (v) => v * Math.sqrt(1 + sMax * sMax));
  for (let k = 0; k < steps; k++) {
    const u = u0 + k * hU;
    const k1 = f(y, u);
    const k2 = f(
      y.map((v, i) => v + 0.5 * hU * k1[i]),
      u + 0.5 * hU,
    );
    const k3 = f(
      y.map((v, i) => v + 0.5 * hU * k2[i]),
      u + 0.5 * hU,
    );
    const k4 = f(
      y.map((v, i) => v + hU * k3[i]),
      u + hU,
    );
    y = y.map((v, i) => v + (hU / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
  }
  const ref = y.map((v) => v / Math.sqrt(1 + sMin * sMin));
  const rms = (x: NDArray): number => {
    let e = 0;
    for (let i = 0; i < x.size; i++) e += (x.data[i] - ref[i]) ** 2;
    return Math.sqrt(e / M);
  };

  const runVp = (make: () => S.Scheduler & { alphasCumprod: Float32Array }, n: number): NDArray => {
    const s = make();
    const model = gmm8.epsilonModel(s.alphasCumprod);
    s.setTimesteps(n);
    let x = zT.clone();
    for (const tt of s.timesteps) x = s.step(model(s.scaleModelInput(x, tt), tt), tt, x).prevSample;
    return x;
  };
  const heun = (nfe: number): NDArray => {
    const m = nfe / 2,
      r = T / m;
    const sig: number[] = [];
    for (let k = 0; k < m; k++) sig.push(sigmaOf(T - 1 - k * r));
    sig.push(sMin);
    return S.sampleHeun(D, zT.mulScalar(Math.sqrt(1 + sMax * sMax)), sig).mulScalar(1 / Math.sqrt(1 + sMin * sMin));
  };
  const vpEnd = { timestep_spacing: 'trailing', final_sigmas_type: 'sigma_min', lower_order_final: false };
  const solvers: { name: string; run: (nfe: number) => NDArray }[] = [
    {
      name: 'DDIM',
      run: (n) =>
        runVp(
          () =>
            S.DDIMScheduler.fromConfig({
              ...base,
              clip_sample: false,
              timestep_spacing: 'trailing',
              set_alpha_to_one: false,
            }),
          n,
        ),
    },
    {
      name: 'DPM-Solver++ 2M',
      run: (n) => runVp(() => S.DPMSolverMultistepScheduler.fromConfig({ ...base, ...vpEnd, solver_order: 2 }), n),
    },
    {
      name: 'DPM-Solver++ 3M',
      run: (n) => runVp(() => S.DPMSolverMultistepScheduler.fromConfig({ ...base, ...vpEnd, solver_order: 3 }), n),
    },
    {
      name: 'UniPC bh2 p=2',
      run: (n) => runVp(() => S.UniPCMultistepScheduler.fromConfig({ ...base, ...vpEnd, solver_order: 2 }), n),
    },
    {
      name: 'UniPC bh2 p=3',
      run: (n) => runVp(() => S.UniPCMultistepScheduler.fromConfig({ ...base, ...vpEnd, solver_order: 3 }), n),
    },
    { name: 'Heun (k-diffusion)', run: heun },
  ];
  const NFES = [20, 40, 50, 100, 200];
  const errs: Record<string, number[]> = {};
  const orders: Record<string, number> = {};
  for (const s of solvers) {
    errs[s.name] = NFES.map((n) => rms(s.run(n)));
    // least-squares slope of log(error) against log(NFE): the measured order
    const lx = NFES.map(Math.log),
      ly = errs[s.name].map(Math.log);
    const mx = lx.reduce((a, b) => a + b) / lx.length,
      my = ly.reduce((a, b) => a + b) / ly.length;
    let num = 0,
      den = 0;
    for (let i = 0; i < lx.length; i++) {
      num += (lx[i] - mx) * (ly[i] - my);
      den += (lx[i] - mx) ** 2;
    }
    orders[s.name] = -num / den;
    results.push(
      `order ${orders[s.name].toFixed(2)}  ${s.name.padEnd(20)} RMS error at NFE ${NFES.join('/')}: ${errs[s.name].map((e) => e.toExponential(2)).join(' ')}`,
    );
  }
  close(orders.DDIM, 1, 0.2, 0, 'DDIM fitted order');
  for (const [name, min] of [
    ['DPM-Solver++ 2M', 1.7],
    ['Heun (k-diffusion)', 1.7],
    ['DPM-Solver++ 3M', 2.0],
    ['UniPC bh2 p=2', 2.3],
    ['UniPC bh2 p=3', 2.8],
  ] as const) {
    assert.ok(orders[name] > min, `${name}: fitted order ${orders[name].toFixed(2)} <= ${min}`);
  }
  // DDIM needs 200 evaluations for its error at NFE 200; the multistep solvers get below it with 40, Heun with 100
  const target = errs.DDIM[4];
  for (const name of ['DPM-Solver++ 2M', 'DPM-Solver++ 3M', 'UniPC bh2 p=2', 'UniPC bh2 p=3']) {
    assert.ok(
      errs[name][1] < target,
      `${name}: error at NFE 40 (${errs[name][1].toExponential(2)}) is not below DDIM's at NFE 200 (${target.toExponential(2)})`,
    );
  }
  assert.ok(errs['Heun (k-diffusion)'][3] < target, `Heun: error at NFE 100 is not below DDIM's at NFE 200`);
});

test('report', () => {
  console.log(['GMM oracle results:', ...results].join('\n  '));
});
