/**
 * A Gaussian mixture with closed-form diffused marginals: the exact score, noise prediction and denoiser
 * of every noise level, so samplers can be tested against ground truth instead of a trained network.
 *
 * Data x0 ~ sum_k w_k N(mu_k, s_k^2 I) (isotropic per component, any dimension d). Under the
 * variance-preserving forward process x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (DDPM eq. 4) the
 * marginal is again a mixture,
 *     p_t(x) = sum_k w_k N(x; sqrt(abar) mu_k, (abar s_k^2 + 1 - abar) I),
 * and under the variance-exploding view x = x0 + sigma eps (Karras et al. 2022, EDM eq. 1/2)
 *     p_sigma(x) = sum_k w_k N(x; mu_k, (s_k^2 + sigma^2) I).
 * Both are "scale c, added variance v": component k has mean c mu_k and variance c^2 s_k^2 + v
 * (VP: c = sqrt(abar), v = 1 - abar; VE: c = 1, v = sigma^2). With responsibilities
 *     r_k(x) = w_k N_k(x) / sum_j w_j N_j(x)            (computed with log-sum-exp)
 * the score is grad log p(x) = sum_k r_k(x) (c mu_k - x) / var_k, and
 *     eps*(x_t, t)  = -sqrt(1 - abar_t) grad log p_t(x_t)            (Song et al. 2021, eq. 3 / Tweedie)
 *     D(x, sigma)   = E[x0 | x] = x + sigma^2 grad log p_sigma(x)    (Tweedie's formula; EDM eq. 3)
 * are the exact minimisers of the eps- and x0-prediction losses: the model a perfect network would learn.
 *
 * @example
 *   const gmm = GaussianMixture.onCircle({ components: 8, radius: 2, stds: 0.25 });
 *   const x0 = gmm.sample(1000, new Philox(0));                      // [1000, 2]
 *   const scheduler = DDIMScheduler.fromConfig({ clip_sample: false });
 *   const model = gmm.epsilonModel(scheduler.alphasCumprod);         // (x, t) => eps*(x, t)
 *   scheduler.setTimesteps(25);
 *   let x = new Philox(1).normal([1000, 2]);
 *   for (const t of scheduler.timesteps) x = scheduler.step(model(scheduler.scaleModelInput(x, t), t), t, x).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';

/** Constructor argument of GaussianMixture. */
export interface GaussianMixtureSpec {
  /** Mixture weights w_k > 0 (normalised to sum 1). */
  weights: ArrayLike<number>;
  /** Component means mu_k, each of length d. */
  means: ArrayLike<ArrayLike<number>>;
  /** Component standard deviations s_k > 0 (one number = the same for all components). */
  stds: ArrayLike<number> | number;
}

/**
 * A noise level: `{ alphaBar }` for the variance-preserving marginal p_t (x_t = sqrt(abar) x0 + sqrt(1-abar) eps),
 * `{ sigma }` for the variance-exploding one (x = x0 + sigma eps). Omitted = the data distribution itself.
 */
export type NoiseLevel = { alphaBar: number } | { sigma: number };

/**
 * A diffusers-style noise-prediction model: the scheduler's `scaleModelInput(x, t)` and the timestep t
 * (a number, or one per batch row) in, eps out.
 */
export type EpsilonModelFn = (x: NDArray, t: number | ArrayLike<number>) => NDArray;

/** A k-diffusion denoiser D(x, sigma) ~ E[x0 | x = x0 + sigma eps]. */
export type DenoiserFn = (x: NDArray, sigma: number) => NDArray;

/** Options of `epsilonModel`. */
export interface EpsilonModelOptions {
  /**
   * How a fractional timestep (Euler/Heun/KDPM2/LMS grids, karras sigmas) maps to a noise level between the
   * two neighbouring entries of alphasCumprod: 'log_sigma' interpolates log sigma linearly (k-diffusion's
   * DiscreteSchedule.t_to_sigma, the exact inverse of diffusers' `_sigma_to_t`), 'linear_sigma' interpolates
   * sigma linearly (diffusers' `np.interp(timesteps, arange(T), sigmas)`). Integer timesteps are exact either way.
   */
  interpolation?: 'log_sigma' | 'linear_sigma';
}

const LOG_2PI = Math.log(2 * Math.PI);

function positiveFinite(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) {
    throw new Error(`GaussianMixture: ${what} = ${v} is invalid; it must be a finite number > 0`);
  }
  return v;
}

/**
 * Gaussian mixture data distribution with exact diffused score / eps / denoiser (see the module doc).
 *
 * @example
 *   const gmm = new GaussianMixture({ weights: [1, 3], means: [[-1, 0], [1, 0]], stds: [0.2, 0.3] });
 *   gmm.logDensity(NDArray.from([[1, 0]]));                // Float64Array [log p(x)]
 *   gmm.score(NDArray.from([[0.5, 0]]), { sigma: 0.5 });   // grad log p_sigma
 */
export class GaussianMixture {
  /** Dimension d of one sample. */
  readonly dim: number;
  /** Number of components K. */
  readonly numComponents: number;
  /** Normalised weights (sum 1). */
  readonly weights: Float64Array;
  /** Means, row-major [K, d]. */
  readonly means: Float64Array;
  /** Standard deviations s_k. */
  readonly stds: Float64Array;

  constructor(spec: GaussianMixtureSpec) {
    if (spec === null || typeof spec !== 'object')
      throw new Error(`GaussianMixture: expected {weights, means, stds}, got ${String(spec)}`);
    const { weights, means, stds } = spec;
    const K = weights?.length ?? 0;
    if (!(K >= 1)) throw new Error('GaussianMixture: weights must hold at least one component weight');
    if (!means || means.length !== K) {
      throw new Error(
        `GaussianMixture: means has ${means?.length ?? 0} rows but weights has ${K}; give one mean per component`,
      );
    }
    const d = means[0]?.length ?? 0;
    if (!(d >= 1)) throw new Error('GaussianMixture: means[0] is empty; each mean needs d >= 1 coordinates');
    this.dim = d;
    this.numComponents = K;
    this.weights = new Float64Array(K);
    let total = 0;
    for (let k = 0; k < K; k++) total += this.weights[k] = positiveFinite(weights[k], `weights[${k}]`);
    for (let k = 0; k < K; k++) this.weights[k] /= total;
    this.means = new Float64Array(K * d);
    for (let k = 0; k < K; k++) {
      const m = means[k];
      if (!m || m.length !== d)
        throw new Error(`GaussianMixture: means[${k}] has length ${m?.length ?? 0}, expected d = ${d} like means[0]`);
      for (let i = 0; i < d; i++) {
        if (!Number.isFinite(m[i]))
          throw new Error(`GaussianMixture: means[${k}][${i}] = ${m[i]} is not a finite number`);
        this.means[k * d + i] = m[i];
      }
    }
    this.stds = new Float64Array(K);
    if (typeof stds === 'number') this.stds.fill(positiveFinite(stds, 'stds'));
    else {
      if (!stds || stds.length !== K)
        throw new Error(
          `GaussianMixture: stds has ${stds?.length ?? 0} values but there are ${K} components; give one std per component or a single number`,
        );
      for (let k = 0; k < K; k++) this.stds[k] = positiveFinite(stds[k], `stds[${k}]`);
    }
  }

  /**
   * K components with means evenly spaced on a circle of the given radius in 2D (the "8 gaussians" toy data).
   * @example GaussianMixture.onCircle({ components: 8, radius: 2, stds: 0.2 })
   */
  static onCircle(o: {
    components: number;
    radius: number;
    stds: ArrayLike<number> | number;
    weights?: ArrayLike<number>;
  }): GaussianMixture {
    const K = o.components;
    if (!Number.isInteger(K) || K < 1)
      throw new Error(`GaussianMixture.onCircle: components = ${K} must be an integer >= 1`);
    positiveFinite(o.radius, 'onCircle radius');
    const means = Array.from({ length: K }, (_, k) => [
      o.radius * Math.cos((2 * Math.PI * k) / K),
      o.radius * Math.sin((2 * Math.PI * k) / K),
    ]);
    return new GaussianMixture({ weights: o.weights ?? new Array(K).fill(1), means, stds: o.stds });
  }

  /** Exact mean E[x0] (length d). @example gmm.mean() */
  mean(): Float64Array {
    const d = this.dim,
      m = new Float64Array(d);
    for (let k = 0; k < this.numComponents; k++)
      for (let i = 0; i < d; i++) m[i] += this.weights[k] * this.means[k * d + i];
    return m;
  }

  /** Exact covariance Cov[x0], row-major [d, d]: sum_k w_k (s_k^2 I + mu_k mu_k^T) - m m^T. @example gmm.covariance() */
  covariance(): Float64Array {
    const d = this.dim,
      m = this.mean(),
      c = new Float64Array(d * d);
    for (let k = 0; k < this.numComponents; k++) {
      const w = this.weights[k],
        s2 = this.stds[k] * this.stds[k];
      for (let i = 0; i < d; i++) {
        c[i * d + i] += w * s2;
        for (let j = 0; j < d; j++) c[i * d + j] += w * this.means[k * d + i] * this.means[k * d + j];
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) c[i * d + j] -= m[i] * m[j];
    return c;
  }

  /**
   * n samples of the data distribution, shape [n, d] (float32). Draws, in this order, generator.uniform([n])
   * (component choice by inverse CDF of the weights) and generator.normal([n, d]).
   * @example const x0 = gmm.sample(500, new Philox(3));
   */
  sample(n: number, generator: RandomGenerator): NDArray {
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`GaussianMixture.sample: n = ${n} must be a non-negative integer`);
    if (!generator || typeof generator.normal !== 'function' || typeof generator.uniform !== 'function') {
      throw new Error('GaussianMixture.sample: a RandomGenerator (e.g. new Philox(seed)) is required');
    }
    const d = this.dim,
      K = this.numComponents;
    const u = generator.uniform([n]).data;
    const z = generator.normal([n, d]).data;
    const out = new NDArray([n, d]);
    for (let r = 0; r < n; r++) {
      let k = 0,
        acc = this.weights[0];
      while (k < K - 1 && u[r] >= acc) acc += this.weights[++k];
      for (let i = 0; i < d; i++) out.data[r * d + i] = this.means[k * d + i] + this.stds[k] * z[r * d + i];
    }
    return out;
  }

  /** (scale c, added variance v) of a noise level; see the module doc. */
  private levelParams(level: NoiseLevel | undefined, fn: string): { c: number; v: number } {
    if (level === undefined) return { c: 1, v: 0 };
    if ('alphaBar' in level) {
      const a = level.alphaBar;
      if (!(Number.isFinite(a) && a >= 0 && a <= 1))
        throw new Error(`GaussianMixture.${fn}: alphaBar = ${a} must be in [0, 1]`);
      return { c: Math.sqrt(a), v: 1 - a };
    }
    if ('sigma' in level) {
      const s = level.sigma;
      if (!(Number.isFinite(s) && s >= 0))
        throw new Error(`GaussianMixture.${fn}: sigma = ${s} must be a finite number >= 0`);
      return { c: 1, v: s * s };
    }
    throw new Error(`GaussianMixture.${fn}: noise level ${JSON.stringify(level)} must be {alphaBar} or {sigma}`);
  }

  private rows(x: NDArray, fn: string): number {
    if (
      x.ndim < 1 ||
      x.size % this.dim !== 0 ||
      (x.ndim >= 2 && x.size / x.shape[0] !== this.dim) ||
      (x.ndim === 1 && x.size !== this.dim)
    ) {
      throw new Error(
        `GaussianMixture.${fn}: x has shape [${x.shape.join(', ')}]; expected [d] or [n, ...] with ${this.dim} values per row (d = ${this.dim})`,
      );
    }
    return x.ndim === 1 ? 1 : x.shape[0];
  }

  /**
   * For each row of x: log p(x) (into `logp`) and, if `grad` is given, grad log p(x) (into grad), at noise
   * level (c, v). Log-sum-exp over components for stability.
   */
  private evaluate(
    xd: ArrayLike<number>,
    n: number,
    c: number,
    v: number,
    logp: Float64Array | null,
    grad: Float64Array | null,
  ): void {
    const d = this.dim,
      K = this.numComponents;
    const varK = new Float64Array(K),
      logCoef = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      varK[k] = c * c * this.stds[k] * this.stds[k] + v;
      logCoef[k] = Math.log(this.weights[k]) - 0.5 * d * (LOG_2PI + Math.log(varK[k]));
    }
    const lk = new Float64Array(K);
    for (let r = 0; r < n; r++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let q = 0;
        for (let i = 0; i < d; i++) {
          const diff = xd[r * d + i] - c * this.means[k * d + i];
          q += diff * diff;
        }
        lk[k] = logCoef[k] - (0.5 * q) / varK[k];
        if (lk[k] > mx) mx = lk[k];
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(lk[k] - mx);
      const lse = mx + Math.log(s);
      if (logp) logp[r] = lse;
      if (grad) {
        for (let i = 0; i < d; i++) grad[r * d + i] = 0;
        for (let k = 0; k < K; k++) {
          const resp = Math.exp(lk[k] - lse) / varK[k];
          if (resp === 0) continue;
          for (let i = 0; i < d; i++) grad[r * d + i] += resp * (c * this.means[k * d + i] - xd[r * d + i]);
        }
      }
    }
  }

  /**
   * log p(x) per row of x ([n, d] or [d]) in float64, at a noise level (default: the data density).
   * @example gmm.logDensity(x, { alphaBar: 0.5 })
   */
  logDensity(x: NDArray, level?: NoiseLevel): Float64Array {
    const n = this.rows(x, 'logDensity');
    const { c, v } = this.levelParams(level, 'logDensity');
    const out = new Float64Array(n);
    this.evaluate(x.data, n, c, v, out, null);
    return out;
  }

  /** Score grad_x log p(x) at a noise level, same shape as x (float32). @example gmm.score(x, { sigma: 1 }) */
  score(x: NDArray, level?: NoiseLevel): NDArray {
    const n = this.rows(x, 'score');
    const { c, v } = this.levelParams(level, 'score');
    const g = new Float64Array(x.size);
    this.evaluate(x.data, n, c, v, null, g);
    return new NDArray(x.shape, Float32Array.from(g));
  }

  /**
   * The exact noise prediction eps*(x_t) = E[eps | x_t] = -sqrt(1 - abar) grad log p_t(x_t) at alphaBar
   * (VP frame). One alphaBar for all rows, or one per row.
   * @example gmm.epsilon(xt, 0.3)
   */
  epsilon(x: NDArray, alphaBar: number | ArrayLike<number>): NDArray {
    const n = this.rows(x, 'epsilon');
    const d = this.dim;
    const per = typeof alphaBar === 'number' ? null : alphaBar;
    if (per && per.length !== n && per.length !== 1) {
      throw new Error(`GaussianMixture.epsilon: ${per.length} alphaBar values for ${n} rows; give one or one per row`);
    }
    const out = new NDArray(x.shape);
    const g = new Float64Array(d);
    const uniform = per === null || per.length === 1;
    const a0 = per === null ? (alphaBar as number) : per[0];
    const rowG = uniform ? new Float64Array(x.size) : null;
    if (uniform) {
      const { c, v } = this.levelParams({ alphaBar: a0 }, 'epsilon');
      this.evaluate(x.data, n, c, v, null, rowG);
      const f = Math.sqrt(1 - a0);
      for (let i = 0; i < x.size; i++) out.data[i] = 0 - f * rowG![i]; // 0 - (..) keeps +0 at abar = 1
      return out;
    }
    for (let r = 0; r < n; r++) {
      const a = per![r];
      const { c, v } = this.levelParams({ alphaBar: a }, 'epsilon');
      this.evaluate(x.data.subarray(r * d, (r + 1) * d), 1, c, v, null, g);
      const f = Math.sqrt(1 - a);
      for (let i = 0; i < d; i++) out.data[r * d + i] = 0 - f * g[i];
    }
    return out;
  }

  /**
   * The exact denoiser E[x0 | x] at a noise level: VE {sigma}: x + sigma^2 grad log p_sigma(x);
   * VP {alphaBar}: (x + (1 - abar) grad log p_t(x)) / sqrt(abar) (Tweedie's formula).
   * @example gmm.denoise(x, { sigma: 0.5 })
   */
  denoise(x: NDArray, level: NoiseLevel): NDArray {
    const n = this.rows(x, 'denoise');
    const { c, v } = this.levelParams(level, 'denoise');
    if (c === 0)
      throw new Error(
        'GaussianMixture.denoise: alphaBar = 0 carries no information about x0 (E[x0|x] is the data mean); use mean()',
      );
    const g = new Float64Array(x.size);
    this.evaluate(x.data, n, c, v, null, g);
    const out = new NDArray(x.shape);
    for (let i = 0; i < x.size; i++) out.data[i] = (x.data[i] + v * g[i]) / c;
    return out;
  }

  /**
   * A diffusers-style eps model for a scheduler with this `alphasCumprod` table: `model(x, t)` gets what a
   * trained network would get (the scheduler's `scaleModelInput(x, t)`, i.e. the VP-frame x_t, and the
   * timestep t indexing alphasCumprod) and returns eps*(x_t, t). Fractional t interpolate between table
   * entries (see EpsilonModelOptions.interpolation); t may be one number or one per batch row.
   * @example const model = gmm.epsilonModel(scheduler.alphasCumprod); const eps = model(x, 999);
   */
  epsilonModel(alphasCumprod: ArrayLike<number>, opts: EpsilonModelOptions = {}): EpsilonModelFn {
    const T = alphasCumprod?.length ?? 0;
    if (!(T >= 1))
      throw new Error("GaussianMixture.epsilonModel: alphasCumprod is empty; pass the scheduler's alphasCumprod table");
    const table = Float64Array.from(alphasCumprod);
    for (let i = 0; i < T; i++) {
      if (!(table[i] >= 0 && table[i] <= 1))
        throw new Error(`GaussianMixture.epsilonModel: alphasCumprod[${i}] = ${table[i]} is not in [0, 1]`);
    }
    const interpolation = opts.interpolation ?? 'log_sigma';
    if (interpolation !== 'log_sigma' && interpolation !== 'linear_sigma') {
      throw new Error(
        `GaussianMixture.epsilonModel: interpolation = ${JSON.stringify(interpolation)} is not supported (allowed: 'log_sigma', 'linear_sigma')`,
      );
    }
    const alphaBarAt = (t: number): number => {
      if (!Number.isFinite(t) || t < -1e-6 || t > T - 1 + 1e-6) {
        throw new Error(
          `GaussianMixture.epsilonModel: timestep ${t} is outside [0, ${T - 1}] (the alphasCumprod table has ${T} entries)`,
        );
      }
      const tc = Math.min(Math.max(t, 0), T - 1);
      const lo = Math.floor(tc),
        w = tc - lo;
      if (w === 0 || lo === T - 1) return table[lo];
      const a0 = table[lo],
        a1 = table[lo + 1];
      const s0 = Math.sqrt((1 - a0) / a0),
        s1 = Math.sqrt((1 - a1) / a1);
      if (!(Number.isFinite(s0) && Number.isFinite(s1) && s0 > 0 && s1 > 0)) return a0 + w * (a1 - a0);
      const s =
        interpolation === 'log_sigma' ? Math.exp((1 - w) * Math.log(s0) + w * Math.log(s1)) : (1 - w) * s0 + w * s1;
      return 1 / (1 + s * s);
    };
    return (x: NDArray, t: number | ArrayLike<number>): NDArray => {
      if (typeof t === 'number') return this.epsilon(x, alphaBarAt(t));
      if (t.length === 1) return this.epsilon(x, alphaBarAt(t[0]));
      const a = new Float64Array(t.length);
      for (let i = 0; i < t.length; i++) a[i] = alphaBarAt(t[i]);
      return this.epsilon(x, a);
    };
  }

  /**
   * The k-diffusion denoiser view D(x, sigma) = E[x0 | x = x0 + sigma eps] for the functional samplers.
   * @example const x0 = sampleHeun(gmm.denoiser(), noise.mulScalar(sigmas[0]), sigmas);
   */
  denoiser(): DenoiserFn {
    return (x: NDArray, sigma: number): NDArray => this.denoise(x, { sigma });
  }
}
