/**
 * The EDM sampler (Karras et al. 2022, Algorithm 2): Heun's second-order method on the probability-flow ODE over
 * the Karras noise levels sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
 * (eq. 5) followed by sigma_N = 0, with optional churn (S_churn, S_tmin, S_tmax, S_noise). The integration
 * itself is k-diffusion's `sample_heun` (k_sampling.ts `sampleHeun`); this file only fixes EDM's grid and
 * defaults. Deterministic with sChurn = 0 (Algorithm 1); 2N - 1 model calls.
 *
 * @example
 *   const x0 = sampleEdm(denoise, new Philox(0).normal([16, 2]), { steps: 18 });
 *   const xs = sampleEdm(denoise, z, { steps: 40, sChurn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003, generator });
 */
import type { NDArray } from '../engine/ndarray.ts';
import { karrasSigmas } from '../schedules/sigmas.ts';
import { EDM_DEFAULTS } from '../diffusion/edm.ts';
import { sampleHeun, type Denoiser, type KChurnOptions } from './k_sampling.ts';

/** Options of sampleEdm: the grid (EDM's defaults) and the churn of Algorithm 2. */
export interface EdmSamplerOptions extends KChurnOptions {
  /** Number of noise levels N (before the final 0). */
  steps: number;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
}

/**
 * EDM's time steps: N Karras sigmas from sigma_max to sigma_min, then 0 (float64).
 * @example edmSigmas(18)  // [80, ..., 0.002, 0]
 */
export function edmSigmas(
  steps: number,
  sigmaMin = EDM_DEFAULTS.sigmaMin,
  sigmaMax = EDM_DEFAULTS.sigmaMax,
  rho = EDM_DEFAULTS.rho,
): Float64Array {
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new Error(`edmSigmas: steps = ${steps} must be a positive integer`);
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin))
    throw new Error(`edmSigmas: sigma_min = ${sigmaMin}, sigma_max = ${sigmaMax}; need 0 < sigma_min < sigma_max`);
  if (!(rho > 0)) throw new Error(`edmSigmas: rho = ${rho} must be > 0`);
  const k = karrasSigmas(sigmaMin, sigmaMax, steps, rho);
  const out = new Float64Array(steps + 1);
  out.set(k);
  return out;
}

/**
 * EDM Algorithm 2 from standard-normal `noise` (scaled here by sigma_max). See the file comment.
 * @example sampleEdm(gmm.denoiser(), new Philox(0).normal([1000, 2]), { steps: 32 })
 */
export function sampleEdm(model: Denoiser, noise: NDArray, o: EdmSamplerOptions): NDArray {
  const sigmas = edmSigmas(o.steps, o.sigmaMin, o.sigmaMax, o.rho);
  return sampleHeun(model, noise.mulScalar(sigmas[0]), sigmas, o);
}
