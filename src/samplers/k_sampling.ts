/**
 * k-diffusion-style functional samplers (Karras et al. 2022, "EDM"; k-diffusion `sampling.py`): Euler,
 * Euler ancestral, Heun, DPM-Solver-2 and linear multistep. They integrate the probability-flow ODE
 *   dx/dsigma = (x - D(x; sigma)) / sigma                                   (EDM eq. 3 with sigma(t) = t)
 * in the variance-exploding frame x = x0 + sigma * eps, where the model is a denoiser D(x, sigma) ~ E[x0 | x].
 * `sigmas` is descending and usually ends with 0. (The DPM-Solver++ family lives in k_dpmpp.ts.)
 *
 * A diffusers eps-model eps(x_vp, t) becomes a denoiser with x_vp = x / sqrt(sigma^2 + 1):
 *   D(x, sigma) = x - sigma * eps(x / sqrt(sigma^2 + 1), t(sigma)).
 *
 * @example
 *   const denoise = (x: NDArray, sigma: number) => x.mulScalar(1 / (1 + sigma * sigma)); // data ~ N(0, I)
 *   const sigmas = [...karrasSigmas(0.02, 80, 20), 0];
 *   const x0 = sampleHeun(denoise, generator.normal([4, 2]).mulScalar(sigmas[0]), sigmas);
 */
import { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
import {
  ancestralStep,
  callDenoiser,
  checkNonNegative,
  sigmaArray,
  type Denoiser,
  type KSamplerOptions,
} from './k_common.ts';
import { lmsCoefficient } from './lms_coefficient.ts';
import { churnAt, type ChurnParams } from './churn.ts';

export type { Denoiser, KSamplerOptions };

/** Churn of EDM Algorithm 2 (used by sampleEuler, sampleHeun, sampleDpm2; see churn.ts). */
export interface KChurnOptions extends KSamplerOptions, ChurnParams {
  /** Needed when sChurn > 0. */
  generator?: RandomGenerator;
}

/** Options of sampleEulerAncestral. */
export interface KAncestralOptions extends KSamplerOptions {
  /** Fraction of the DDPM posterior std injected per step (1 = ancestral, 0 = Euler). */
  eta?: number;
  sNoise?: number;
  generator?: RandomGenerator;
}

/** Options of sampleLms. */
export interface KLmsOptions extends KSamplerOptions {
  /** Number of past derivatives combined (default 4). */
  order?: number;
}

/** d = (x - D) / sigma: the ODE derivative dx/dsigma (k-diffusion `to_d`). */
function toD(x: NDArray, sigma: number, denoised: NDArray): NDArray {
  const out = new NDArray(x.shape),
    o = out.data,
    xs = x.data,
    p = denoised.data;
  // d = (x - D) / sigma
  for (let j = 0; j < o.length; j++) o[j] = (xs[j] - p[j]) / sigma;
  return out;
}

/** x + a * d */
function axpy(x: NDArray, a: number, d: NDArray): NDArray {
  const out = new NDArray(x.shape),
    o = out.data,
    xs = x.data,
    ds = d.data;
  // x + a d
  for (let j = 0; j < o.length; j++) o[j] = xs[j] + a * ds[j];
  return out;
}

/**
 * EDM Algorithm 2 lines 4-6: raise sigma to sigma_hat = sigma (1 + gamma) by adding noise. Like k-diffusion,
 * one normal draw is taken every step when a generator is given (used only when gamma > 0), so that seeded
 * runs consume the generator in k-diffusion's order.
 */
function churn(
  x: NDArray,
  sigma: number,
  nSteps: number,
  o: KChurnOptions,
  fn: string,
): { x: NDArray; sigmaHat: number } {
  checkNonNegative(o.sChurn ?? 0, 'sChurn', fn, true);
  const { gamma, sigmaHat, noiseStd } = churnAt(sigma, nSteps, o);
  const eps = o.generator ? o.generator.normal(x.shape) : null;
  if (gamma > 0) {
    if (!eps) throw new Error(`${fn}: sChurn > 0 adds noise and needs opts.generator`);
    // x_hat = x + (sqrt(sigma_hat^2 - sigma^2) S_noise) z   (k-diffusion's order)
    x = axpy(x, noiseStd * (o.sNoise ?? 1), eps);
  }
  return { x, sigmaHat };
}

/**
 * EDM Algorithm 2 lines 4-7 for step i: churn x up to sigma_hat, one model call D(x_hat; sigma_hat) (reported to
 * the callback), and the derivative d = (x_hat - D) / sigma_hat.
 */
function churnAndDerivative(
  model: Denoiser,
  x: NDArray,
  s: Float64Array,
  i: number,
  opts: KChurnOptions,
  fn: string,
): { x: NDArray; sigmaHat: number; d: NDArray } {
  const c = churn(x, s[i], s.length - 1, opts, fn);
  const denoised = callDenoiser(model, c.x, c.sigmaHat, fn);
  opts.callback?.({ i, x: c.x, sigma: s[i], sigmaHat: c.sigmaHat, denoised });
  return { x: c.x, sigmaHat: c.sigmaHat, d: toD(c.x, c.sigmaHat, denoised) };
}

/**
 * Euler's method (EDM Algorithm 2 with S_churn; k-diffusion `sample_euler`): one model call per step.
 * @example sampleEuler(denoise, xT, [80, 10, 1, 0.1, 0])
 */
export function sampleEuler(model: Denoiser, x: NDArray, sigmas: ArrayLike<number>, opts: KChurnOptions = {}): NDArray {
  const fn = 'sampleEuler';
  const s = sigmaArray(sigmas, fn);
  for (let i = 0; i < s.length - 1; i++) {
    const c = churnAndDerivative(model, x, s, i, opts, fn),
      d = c.d;
    x = c.x;
    x = axpy(x, s[i + 1] - c.sigmaHat, d);
  }
  return x;
}

/**
 * Ancestral Euler (k-diffusion `sample_euler_ancestral`): Euler step down to sigma_down, then fresh noise of
 * std sigma_up, sigma_down^2 + sigma_up^2 = sigma_next^2 (the DDPM posterior split, Ho et al. 2020 eq. 7).
 * No noise is added on the step to sigma = 0.
 * @example sampleEulerAncestral(denoise, xT, sigmas, { generator })
 */
export function sampleEulerAncestral(
  model: Denoiser,
  x: NDArray,
  sigmas: ArrayLike<number>,
  opts: KAncestralOptions = {},
): NDArray {
  const fn = 'sampleEulerAncestral';
  const s = sigmaArray(sigmas, fn);
  const eta = opts.eta ?? 1,
    sNoise = opts.sNoise ?? 1;
  checkNonNegative(eta, 'eta', fn);
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    const { sigmaDown, sigmaUp } = ancestralStep(s[i], s[i + 1], eta);
    const d = toD(x, s[i], denoised);
    x = axpy(x, sigmaDown - s[i], d);
    if (s[i + 1] > 0) {
      // (k-diffusion draws here whenever sigma_next > 0, even with eta = 0)
      if (opts.generator) x = axpy(x, sigmaUp * sNoise, opts.generator.normal(x.shape));
      else if (sigmaUp > 0) throw new Error(`${fn}: this sampler injects noise (eta > 0) and needs opts.generator`);
    }
  }
  return x;
}

/**
 * Heun's second-order method (EDM Algorithm 1/2; k-diffusion `sample_heun`): Euler predictor, trapezoidal
 * corrector with a second model call at sigma_next; the step to sigma = 0 is an Euler step.
 * @example sampleHeun(denoise, xT, sigmas)
 */
export function sampleHeun(model: Denoiser, x: NDArray, sigmas: ArrayLike<number>, opts: KChurnOptions = {}): NDArray {
  const fn = 'sampleHeun';
  const s = sigmaArray(sigmas, fn);
  for (let i = 0; i < s.length - 1; i++) {
    const c = churnAndDerivative(model, x, s, i, opts, fn),
      d = c.d;
    x = c.x;
    const dt = s[i + 1] - c.sigmaHat;
    if (s[i + 1] === 0) {
      x = axpy(x, dt, d);
    } else {
      const x2 = axpy(x, dt, d);
      const d2 = toD(x2, s[i + 1], callDenoiser(model, x2, s[i + 1], fn));
      // EDM Algorithm 1 line 8: x_{i+1} = x_i + (t_{i+1} - t_i) (d_i + d'_i) / 2
      const xNext = new NDArray(x.shape),
        o = xNext.data,
        xs = x.data,
        a = d.data,
        b = d2.data;
      for (let j = 0; j < o.length; j++) o[j] = xs[j] + dt * 0.5 * (a[j] + b[j]);
      x = xNext;
    }
  }
  return x;
}

/**
 * DPM-Solver-2 in k-diffusion's form (`sample_dpm_2`): Euler to the midpoint sigma_mid = sqrt(sigma sigma_next)
 * (midpoint in log sigma), then the full step with the midpoint's derivative (Lu et al. 2022, DPM-Solver-2,
 * Algorithm 1 with r = 1/2). The step to sigma = 0 is an Euler step.
 * @example sampleDpm2(denoise, xT, sigmas)
 */
export function sampleDpm2(model: Denoiser, x: NDArray, sigmas: ArrayLike<number>, opts: KChurnOptions = {}): NDArray {
  const fn = 'sampleDpm2';
  const s = sigmaArray(sigmas, fn);
  for (let i = 0; i < s.length - 1; i++) {
    const c = churnAndDerivative(model, x, s, i, opts, fn),
      d = c.d;
    x = c.x;
    if (s[i + 1] === 0) {
      x = axpy(x, s[i + 1] - c.sigmaHat, d);
    } else {
      const sigmaMid = Math.exp(0.5 * (Math.log(c.sigmaHat) + Math.log(s[i + 1])));
      const x2 = axpy(x, sigmaMid - c.sigmaHat, d);
      const d2 = toD(x2, sigmaMid, callDenoiser(model, x2, sigmaMid, fn));
      x = axpy(x, s[i + 1] - c.sigmaHat, d2);
    }
  }
  return x;
}

/**
 * Coefficient of the j-th past derivative in a linear multistep step sigmas[i] -> sigmas[i+1]: the integral of
 * the Lagrange basis polynomial through sigmas[i], ..., sigmas[i-order+1] (k-diffusion `linear_multistep_coeff`).
 * @example linearMultistepCoeff(2, [10, 5, 1, 0], 1, 0)
 */
export function linearMultistepCoeff(order: number, sigmas: ArrayLike<number>, i: number, j: number): number {
  if (order - 1 > i) throw new Error(`linearMultistepCoeff: order ${order} is too high for step ${i}`);
  return lmsCoefficient(order, sigmas, i, j); // float64 integrand, like k-diffusion
}

/**
 * Linear multistep (Adams-Bashforth in sigma; k-diffusion `sample_lms`): x_{i+1} = x_i + sum_j c_j d_{i-j},
 * with the order growing from 1 while the derivative history fills.
 * @example sampleLms(denoise, xT, sigmas, { order: 4 })
 */
export function sampleLms(model: Denoiser, x: NDArray, sigmas: ArrayLike<number>, opts: KLmsOptions = {}): NDArray {
  const fn = 'sampleLms';
  const s = sigmaArray(sigmas, fn);
  const order = opts.order ?? 4;
  if (!Number.isInteger(order) || order < 1) throw new Error(`${fn}: opts.order = ${order} must be a positive integer`);
  const ds: NDArray[] = [];
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    ds.push(toD(x, s[i], denoised));
    if (ds.length > order) ds.shift();
    const cur = Math.min(i + 1, order);
    const acc = new Float64Array(x.size);
    for (let j = 0; j < cur; j++) {
      const c = linearMultistepCoeff(cur, s, i, j);
      const d = ds[ds.length - 1 - j].data;
      for (let k = 0; k < acc.length; k++) acc[k] += c * d[k];
    }
    const xNext = new NDArray(x.shape),
      o = xNext.data,
      xs = x.data;
    // x_{i+1} = x_i + sum_j c_j d_{i-j}
    for (let k = 0; k < o.length; k++) o[k] = xs[k] + acc[k];
    x = xNext;
  }
  return x;
}
