/**
 * Exact noise-prediction models as traced graphs, for checking likelihood code against closed forms:
 * what a perfectly trained network would output for Gaussian or Gaussian-mixture data.
 *
 * Both are TracedEpsModels whose time input `cond` is sigma itself (the VE noise level of
 * y = x0 + sigma eps, y = x_t sqrt(1 + sigma^2)), so they are defined at every noise level:
 *   eps*(x_t) = E[eps | x_t] = -sigma grad_y log p_sigma(y)                 (Tweedie; Song et al. 2021 eq. 3)
 * - Gaussian data N(mu, diag(s^2)):  p_sigma = N(mu, diag(s^2 + sigma^2)), eps* = sigma (y - mu) / (s^2 + sigma^2).
 * - Mixture sum_k w_k N(mu_k, s_k^2 I): p_sigma = sum_k w_k N(mu_k, (s_k^2 + sigma^2) I), with responsibilities
 *   r_k(y) = softmax_k(log w_k - d/2 log(2 pi v_k) - |y - mu_k|^2 / (2 v_k)), v_k = s_k^2 + sigma^2:
 *   eps* = sigma sum_k r_k (y - mu_k) / v_k   (the same closed form as src/data/gaussian_mixture.ts, traced).
 *
 * @example
 *   const m = gaussianMixtureEpsModel(GaussianMixture.onCircle({ components: 8, radius: 2, stds: 0.3 }), [0.002, 80]);
 *   const f = EpsDivergence.create(m, { probes: 0 });    // exact divergence by autodiff
 */
import {
  NDArray,
  add,
  constant,
  matmul,
  mul,
  reshape,
  softmax,
  sqrt,
  square,
  sub,
  sum,
  div,
  log,
  transpose,
  type Value,
} from '../../engine/index.ts';
import type { GaussianMixture } from '../../data/gaussian_mixture.ts';
import type { TracedEpsModel } from './divergence.ts';

function column(v: Value): Value {
  return reshape(v, [v.shape[0], 1]);
}

/** y = x sqrt(1 + sigma^2) for x [B, d], sigma [B]. */
function veFrame(x: Value, sigma: Value): Value {
  const s = column(sigma);
  return mul(x, sqrt(add(mul(s, s), 1)));
}

/**
 * The exact eps of Gaussian data N(mean, diag(std^2)) (see the module doc); cond = sigma.
 * @example gaussianEpsModel([0, 1], [1, 0.5], [0.01, 100])
 */
export function gaussianEpsModel(
  mean: readonly number[],
  std: readonly number[],
  sigmaRange: readonly [number, number],
): TracedEpsModel {
  const d = mean.length;
  if (d < 1 || std.length !== d)
    throw new Error(
      `gaussianEpsModel: mean (length ${d}) and std (length ${std.length}) must have the same positive length`,
    );
  for (const s of std) if (!(s > 0)) throw new Error(`gaussianEpsModel: std entries must be > 0, got ${s}`);
  return {
    sampleShape: [d],
    classConditional: false,
    sigmaRange,
    conditioning: (sigma) => sigma,
    eps(x, _cond, sigma) {
      const s = column(sigma);
      const mu = constant(new NDArray([1, d], mean));
      const s2 = constant(
        new NDArray(
          [1, d],
          std.map((v) => v * v),
        ),
      );
      return div(mul(s, sub(veFrame(x, sigma), mu)), add(s2, mul(s, s)));
    },
  };
}

/**
 * The exact eps of a Gaussian mixture (see the module doc); cond = sigma.
 * @example gaussianMixtureEpsModel(defaultGaussianMixture(), [0.002, 80])
 */
export function gaussianMixtureEpsModel(gmm: GaussianMixture, sigmaRange: readonly [number, number]): TracedEpsModel {
  const d = gmm.dim,
    K = gmm.numComponents;
  const mus = new NDArray([K, d], Float32Array.from(gmm.means));
  const muSq = new NDArray(
    [1, K],
    Float32Array.from({ length: K }, (_, k) => {
      let q = 0;
      for (let i = 0; i < d; i++) q += gmm.means[k * d + i] ** 2;
      return q;
    }),
  );
  const logW = new NDArray([1, K], Float32Array.from(gmm.weights, Math.log));
  const s2 = new NDArray(
    [1, K],
    Float32Array.from(gmm.stds, (s) => s * s),
  );
  return {
    sampleShape: [d],
    classConditional: false,
    sigmaRange,
    conditioning: (sigma) => sigma,
    eps(x, _cond, sigma) {
      const s = column(sigma);
      const y = veFrame(x, sigma);
      const v = add(constant(s2), mul(s, s)); // [B, K]
      const mu = constant(mus);
      // |y - mu_k|^2 = |y|^2 - 2 y.mu_k + |mu_k|^2
      const q = add(sub(sum(square(y), [1], true), mul(matmul(y, transpose(mu)), 2)), constant(muSq));
      const logits = sub(sub(constant(logW), mul(log(v), 0.5 * d)), div(q, mul(v, 2)));
      const rv = div(softmax(logits, 1), v); // r_k / v_k
      return mul(s, sub(mul(y, sum(rv, [1], true)), matmul(rv, mu)));
    },
  };
}
