/**
 * Shared pieces of the k-diffusion-style functional samplers (k_sampling.ts: Euler, Heun, DPM-2, LMS;
 * k_dpmpp.ts: the DPM-Solver++ family): the denoiser and option types, validation of the sigma schedule
 * and of the model's answer, and the ancestral split of a step (k-diffusion's `get_ancestral_step`).
 *
 * x lives in the variance-exploding frame x = x0 + sigma * eps and the model is a denoiser
 * D(x, sigma) ~ E[x0 | x] (Karras et al. 2022, "EDM", Sec. 2).
 *
 * @example
 *   const s = sigmaArray([14.6, 1.2, 0], 'mySampler');           // validated, float64
 *   const d = callDenoiser(model, x, s[0], 'mySampler');           // shape-checked D(x, sigma)
 *   const { sigmaDown, sigmaUp } = ancestralStep(s[0], s[1], 1);   // DDPM posterior split
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';

/** A denoiser D(x, sigma) returning the predicted clean sample x0 (same shape as x). */
export type Denoiser = (x: NDArray, sigma: number) => NDArray;
/** Returns standard-normal noise for the step sigma -> sigmaNext (same shape as x). */
export type NoiseSampler = (sigma: number, sigmaNext: number) => NDArray;

/** What the samplers report to `callback` once per step, right after the first model call. */
export interface KStepInfo {
  i: number;
  x: NDArray;
  sigma: number;
  sigmaHat: number;
  denoised: NDArray;
}

/** Options shared by all k-diffusion style samplers. */
export interface KSamplerOptions {
  callback?: (info: KStepInfo) => void;
}

/**
 * The descending noise levels of a sampler run as float64, checked: at least two, every one finite and
 * > 0 except the last, which may be 0.
 * @example sigmaArray([14.6, 1.2, 0], 'sampleEuler')
 */
export function sigmaArray(sigmas: ArrayLike<number>, fn: string): Float64Array {
  const s = Float64Array.from(sigmas);
  if (s.length < 2)
    throw new Error(`${fn}: sigmas must hold at least 2 noise levels (got ${s.length}); the last one is usually 0`);
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    if (!(Number.isFinite(v) && (i < s.length - 1 ? v > 0 : v >= 0))) {
      throw new Error(
        `${fn}: sigmas[${i}] = ${v} is invalid: every sigma must be finite and > 0, except the last which may be 0`,
      );
    }
  }
  return s;
}

/**
 * D(x, sigma), checked to be an NDArray of x's shape.
 * @example const denoised = callDenoiser(model, x, 1.5, 'sampleHeun');
 */
export function callDenoiser(model: Denoiser, x: NDArray, sigma: number, fn: string): NDArray {
  const d = model(x, sigma);
  if (!(d instanceof NDArray) || !sameShape(d.shape, x.shape)) {
    const got = d instanceof NDArray ? `[${d.shape.join(', ')}]` : typeof d;
    throw new Error(
      `${fn}: model(x, sigma=${sigma}) returned ${got}, expected an NDArray of shape [${x.shape.join(', ')}]`,
    );
  }
  return d;
}

/**
 * Throw unless opts[name] is a number >= 0 (finite unless `allowInfinity`).
 * @example checkNonNegative(opts.eta ?? 1, 'eta', 'sampleDpmpp2mSde')
 */
export function checkNonNegative(v: number, name: string, fn: string, allowInfinity = false): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (v === Infinity && !allowInfinity)) {
    throw new Error(`${fn}: opts.${name} = ${v} is invalid: expected a ${allowInfinity ? '' : 'finite '}number >= 0`);
  }
}

/**
 * Ancestral split of a step sigmaFrom -> sigmaTo (k-diffusion's get_ancestral_step): go down
 * deterministically to sigmaDown, then add fresh noise of std sigmaUp, so that
 * sigmaDown^2 + sigmaUp^2 = sigmaTo^2. eta scales the DDPM posterior std (Ho et al. 2020, eq. 7).
 *
 * @example
 *   const { sigmaDown, sigmaUp } = ancestralStep(2, 1, 1); // sigmaUp = sqrt(1 * (4 - 1) / 4)
 */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom)),
  );
  const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
  return { sigmaDown, sigmaUp };
}
