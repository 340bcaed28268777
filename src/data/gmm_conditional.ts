/**
 * The exact conditional of a Gaussian mixture given some of its coordinates — the ground truth of
 * imputation. With isotropic components N(mu_k, s_k^2 I), the known coordinates x_A and the unknown
 * x_B are independent within a component, so
 *     p(x_B | x_A) = sum_k w'_k N(x_B; mu_{k,B}, s_k^2 I),
 *     w'_k = w_k N(x_A; mu_{k,A}, s_k^2 I) / sum_j w_j N(x_A; mu_{j,A}, s_j^2 I)    (Bayes' rule on the component)
 * again a Gaussian mixture (over the unknown coordinates), with exact density, sampler and CDF.
 *
 * @example
 *   const cond = conditionalGaussianMixture(gmm, [0], [2.0]);   // p(x2 | x1 = 2), a 1-D mixture
 *   const draws = cond.sample(1000, new Philox(0));
 *   mixtureCdf1d(cond, 0.5)                                       // P(x2 <= 0.5 | x1 = 2)
 */
import { GaussianMixture } from './gaussian_mixture.ts';

/**
 * The mixture of the unknown coordinates given `values` at the `knownDims` (see the module doc).
 * @example conditionalGaussianMixture(defaultGaussianMixture(), [0], [2])
 */
export function conditionalGaussianMixture(
  gmm: GaussianMixture,
  knownDims: readonly number[],
  values: readonly number[],
): GaussianMixture {
  const d = gmm.dim,
    K = gmm.numComponents;
  if (knownDims.length !== values.length)
    throw new Error(`conditionalGaussianMixture: ${knownDims.length} known dimensions but ${values.length} values`);
  for (const j of knownDims)
    if (!Number.isInteger(j) || j < 0 || j >= d)
      throw new Error(`conditionalGaussianMixture: known dimension ${j} is not in 0..${d - 1}`);
  if (new Set(knownDims).size !== knownDims.length)
    throw new Error('conditionalGaussianMixture: known dimensions repeat');
  const unknown = Array.from({ length: d }, (_, i) => i).filter((i) => !knownDims.includes(i));
  if (unknown.length === 0)
    throw new Error('conditionalGaussianMixture: every coordinate is known; nothing to condition');
  const logw = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const s2 = gmm.stds[k] ** 2;
    let l = Math.log(gmm.weights[k]) - 0.5 * knownDims.length * Math.log(2 * Math.PI * s2);
    knownDims.forEach((j, a) => {
      l -= (values[a] - gmm.means[k * d + j]) ** 2 / (2 * s2);
    });
    logw[k] = l;
  }
  const mx = Math.max(...logw);
  const weights = Array.from(logw, (l) => Math.exp(l - mx));
  // components with vanishing weight are kept (GaussianMixture needs weights > 0): floor at 1e-300
  const means = Array.from({ length: K }, (_, k) => unknown.map((i) => gmm.means[k * d + i]));
  return new GaussianMixture({ weights: weights.map((w) => Math.max(w, 1e-300)), means, stds: gmm.stds });
}

/** erf(x) to ~1e-15 (Taylor series near 0, continued fraction of erfc beyond). @example erf(1) // 0.8427007929497149 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf x = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax,
      sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))  (Lentz-free backward evaluation)
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** CDF of a one-dimensional Gaussian mixture at x. @example mixtureCdf1d(cond, 0) */
export function mixtureCdf1d(gmm: GaussianMixture, x: number): number {
  if (gmm.dim !== 1) throw new Error(`mixtureCdf1d: the mixture has dimension ${gmm.dim}, expected 1`);
  let p = 0;
  for (let k = 0; k < gmm.numComponents; k++)
    p += gmm.weights[k] * 0.5 * (1 + erf((x - gmm.means[k]) / (gmm.stds[k] * Math.SQRT2)));
  return p;
}

/**
 * Kolmogorov-Smirnov statistic sup |F_n(x) - F(x)| of samples against a CDF.
 * @example ksStatistic(x2draws, (v) => mixtureCdf1d(cond, v))
 */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const F = cdf(s[i]);
    d = Math.max(d, (i + 1) / n - F, F - i / n);
  }
  return d;
}
