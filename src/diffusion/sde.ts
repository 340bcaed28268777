/**
 * The forward SDEs of score-based generative modelling (Song et al. 2021, "Score-Based Generative Modeling
 * through Stochastic Differential Equations", sec. 3.4 and app. B), on t in [0, 1]:
 *
 *   VE: dx = g(t) dw,  sigma(t) = sigma_min (sigma_max / sigma_min)^t,  g(t) = sigma(t) sqrt(2 ln(sigma_max / sigma_min))
 *   VP: dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw,  beta(t) = beta_min + t (beta_max - beta_min)
 *
 * Both have Gaussian marginals x_t = alpha(t) x0 + s(t) z, i.e. x_t / alpha(t) = x0 + sigma(t) z with
 * sigma = s / alpha (the EDM / k-diffusion frame), so one denoiser D(x; sigma) gives the score of either:
 *   grad log p_t(x) = (alpha D(x / alpha; sigma) - x) / s^2                        (`scoreFromDenoiserAt`)
 *
 * @example
 *   const sde = new VpSde();                   // beta_min 0.1, beta_max 20 (Song et al.'s DDPM++ setting)
 *   const { alpha, std } = sde.marginal(0.5);  // x_0.5 = alpha x0 + std z
 */
import type { NDArray } from '../engine/ndarray.ts';

/** A forward SDE dx = f(x, t) dt + g(t) dw with Gaussian marginals. */
export interface Sde {
  readonly kind: 've' | 'vp';
  /** x_t = alpha x0 + std z. */
  marginal(t: number): { alpha: number; std: number };
  /** Noise level of x_t / alpha in the VE frame: std / alpha. */
  sigma(t: number): number;
  /** The drift f(x, t). */
  drift(x: NDArray, t: number): NDArray;
  /** The diffusion coefficient g(t). */
  diffusion(t: number): number;
  /** Standard deviation of the prior p_1 (x_1 ~ N(0, priorStd^2 I)). */
  readonly priorStd: number;
  /**
   * One step t -> t_next of the SDE's own discretisation (Song et al. 2021, app. E: VE: SMLD's noise
   * increments; VP: DDPM's x_{i} = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z), as x_next = x + f_d(x) + G z.
   */
  discretize(x: NDArray, t: number, tNext: number): { f: NDArray; G: number };
}

/** The variance-exploding SDE (SMLD / NCSN). @example new VeSde({ sigmaMin: 0.01, sigmaMax: 50 }).sigma(1) // 50 */
export class VeSde implements Sde {
  readonly kind = 've' as const;
  readonly sigmaMin: number;
  readonly sigmaMax: number;

  constructor(o: { sigmaMin?: number; sigmaMax?: number } = {}) {
    this.sigmaMin = o.sigmaMin ?? 0.01;
    this.sigmaMax = o.sigmaMax ?? 50;
    if (!(this.sigmaMin > 0 && this.sigmaMax > this.sigmaMin))
      throw new Error(
        `VeSde: sigma_min = ${this.sigmaMin}, sigma_max = ${this.sigmaMax}; need 0 < sigma_min < sigma_max`,
      );
  }

  sigma(t: number): number {
    return this.sigmaMin * (this.sigmaMax / this.sigmaMin) ** t;
  }
  marginal(t: number): { alpha: number; std: number } {
    return { alpha: 1, std: this.sigma(t) };
  }
  drift(x: NDArray): NDArray {
    return x.map(() => 0);
  }
  diffusion(t: number): number {
    return this.sigma(t) * Math.sqrt(2 * Math.log(this.sigmaMax / this.sigmaMin));
  }
  get priorStd(): number {
    return this.sigmaMax;
  }
  discretize(x: NDArray, t: number, tNext: number): { f: NDArray; G: number } {
    const s = this.sigma(t),
      sn = this.sigma(tNext);
    return { f: x.map(() => 0), G: Math.sqrt(Math.abs(s * s - sn * sn)) };
  }
}

/** The variance-preserving SDE (continuous DDPM). @example new VpSde().marginal(1).alpha // ~ 6.7e-3 */
export class VpSde implements Sde {
  readonly kind = 'vp' as const;
  readonly betaMin: number;
  readonly betaMax: number;

  constructor(o: { betaMin?: number; betaMax?: number } = {}) {
    this.betaMin = o.betaMin ?? 0.1;
    this.betaMax = o.betaMax ?? 20;
    if (!(this.betaMin > 0 && this.betaMax >= this.betaMin))
      throw new Error(`VpSde: beta_min = ${this.betaMin}, beta_max = ${this.betaMax}; need 0 < beta_min <= beta_max`);
  }

  beta(t: number): number {
    return this.betaMin + t * (this.betaMax - this.betaMin);
  }
  /** log alpha(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2. */
  logAlpha(t: number): number {
    return -0.25 * t * t * (this.betaMax - this.betaMin) - 0.5 * t * this.betaMin;
  }
  marginal(t: number): { alpha: number; std: number } {
    const la = this.logAlpha(t);
    return { alpha: Math.exp(la), std: Math.sqrt(-Math.expm1(2 * la)) };
  }
  sigma(t: number): number {
    const { alpha, std } = this.marginal(t);
    return std / alpha;
  }
  drift(x: NDArray, t: number): NDArray {
    const k = -0.5 * this.beta(t);
    return x.map((v) => k * v);
  }
  diffusion(t: number): number {
    return Math.sqrt(this.beta(t));
  }
  get priorStd(): number {
    return 1;
  }
  discretize(x: NDArray, t: number, tNext: number): { f: NDArray; G: number } {
    // beta_i of the step: alpha(t)^2 / alpha(t_next)^2 = 1 - beta_i (forward direction t_next -> t)
    const beta = -Math.expm1(2 * (this.logAlpha(t) - this.logAlpha(tNext)));
    const k = Math.sqrt(1 - beta) - 1;
    return { f: x.map((v) => k * v), G: Math.sqrt(beta) };
  }
}

/**
 * The score of the SDE's marginal p_t at x from a denoiser D(x; sigma) of the VE frame:
 * (alpha D(x / alpha; sigma(t)) - x) / std(t)^2.
 * @example const s = scoreFromDenoiserAt(D, x, 0.3, new VpSde());
 */
export function scoreFromDenoiserAt(denoised: NDArray, x: NDArray, t: number, sde: Sde): NDArray {
  const { alpha, std } = sde.marginal(t);
  const k = 1 / (std * std);
  return x.map((v, i) => (alpha * denoised.data[i] - v) * k);
}
