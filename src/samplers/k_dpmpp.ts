/**
 * k-diffusion-style functional DPM-Solver++ samplers (Karras et al. 2022 "EDM" parameterisation).
 *
 * Here `x` lives in the variance-exploding frame, x = x0 + sigma * eps, and the model is a *denoiser*
 * D(x, sigma) ~ E[x0 | x] (what k-diffusion calls `model(x, sigma)`). A diffusers scheduler's
 * VP sample x_vp relates by x = x_vp / alpha_t and sigma = sigma_t / alpha_t.
 *
 * All four samplers integrate the probability-flow ODE (or the reverse SDE) in the log-SNR time
 * t = -log(sigma) with the exponential-integrator form of DPM-Solver++ (Lu et al. 2022b,
 * "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models",
 * arXiv:2211.01095): over one step of length h = t_next - t the linear part is exact,
 *     x(t_next) = (sigma_next / sigma) x(t) + sigma_next * integral_t^{t_next} e^{tau} D(tau) dtau,
 * and D is approximated by a polynomial in tau (order 1, 2 or 3).
 *
 * Noise (SDE and ancestral variants) is drawn after the model call of each step, one
 * `normal(x.shape)` per step, from `opts.noiseSampler(sigma, sigmaNext)` when given, else from
 * `opts.generator`. (k-diffusion's 2M/3M-SDE default to a Brownian-tree sampler; increments over
 * disjoint intervals are independent standard normals, so i.i.d. draws have the same law.)
 *
 * @example
 *   import { sampleDpmpp2m } from './k_dpmpp.ts';
 *   const denoise = (x: NDArray, sigma: number) => x.mulScalar(1 / (1 + sigma * sigma)); // N(0, I) data
 *   const x0 = sampleDpmpp2m(denoise, noise.mulScalar(sigmas[0]), sigmas);
 */
import { type NDArray, sameShape } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
import {
  ancestralStep,
  callDenoiser,
  checkNonNegative,
  sigmaArray,
  type Denoiser,
  type KSamplerOptions,
  type NoiseSampler,
} from './k_common.ts';
import { lincomb } from './step_utils.ts';
import { dpmFirstOrder, dpmMultistepSecondOrder, dpmMultistepThirdOrder } from './dpm_solver_math.ts';

export type { Denoiser, KSamplerOptions, KStepInfo, NoiseSampler } from './k_common.ts';
export { ancestralStep } from './k_common.ts';

/** Options of the stochastic samplers. */
export interface KStochasticOptions extends KSamplerOptions {
  /** Amount of fresh noise: 0 = ODE (deterministic), 1 = full SDE / ancestral step. Default 1. */
  eta?: number;
  /** Multiplier on the injected noise (k-diffusion's s_noise). Default 1. */
  sNoise?: number;
  /** Source of N(0, I) noise (used when noiseSampler is not given). */
  generator?: RandomGenerator;
  /** Explicit noise source; takes precedence over `generator`. */
  noiseSampler?: NoiseSampler;
}

/** Options of sampleDpmpp2mSde. */
export interface KDpmpp2mSdeOptions extends KStochasticOptions {
  /** Second-order correction: 'midpoint' (default) or 'heun'. */
  solverType?: 'midpoint' | 'heun';
}

// ---------------------------------------------------------------------------------------------
// helpers

function makeNoise(opts: KStochasticOptions, x: NDArray, fn: string): NoiseSampler {
  if (opts.noiseSampler) {
    const ns = opts.noiseSampler;
    return (s, sn) => {
      const z = ns(s, sn);
      if (!sameShape(z.shape, x.shape)) {
        throw new Error(`${fn}: noiseSampler returned shape [${z.shape.join(', ')}], expected [${x.shape.join(', ')}]`);
      }
      return z;
    };
  }
  if (opts.generator) {
    const g = opts.generator;
    return () => g.normal(x.shape);
  }
  return () => {
    throw new Error(`${fn}: this sampler injects noise (eta > 0) and needs opts.generator or opts.noiseSampler`);
  };
}

/** The start of every stochastic sampler: eta (>= 0, default 1), sNoise (default 1), the checked sigmas, the noise source. */
function stochasticStart(
  opts: KStochasticOptions,
  x: NDArray,
  sigmas: ArrayLike<number>,
  fn: string,
): { eta: number; sNoise: number; s: Float64Array; noise: NoiseSampler } {
  const eta = opts.eta ?? 1;
  checkNonNegative(eta, 'eta', fn);
  return { eta, sNoise: opts.sNoise ?? 1, s: sigmaArray(sigmas, fn), noise: makeNoise(opts, x, fn) };
}

const tOf = (sigma: number): number => -Math.log(sigma); // log-SNR time of the VE frame
const sigmaOf = (t: number): number => Math.exp(-t);

// ---------------------------------------------------------------------------------------------
// samplers

/**
 * DPM-Solver++(2M), Lu et al. 2022b Algorithm 2: multistep second order in t = -log sigma.
 * The first step and any step to sigma = 0 are first order (DPM-Solver++(1) = DDIM).
 *
 * The update is the one of DPMSolverMultistepScheduler ('dpmsolver++', 'midpoint'): dpmFirstOrder and
 * dpmMultistepSecondOrder of dpm_solver_math.ts, with k-diffusion's float64 weights in the VE frame
 * (a = sigma_next / sigma, b0 = -expm1(-h), b1 = b0 / 2; test/samplers/k_dpmpp_oracle) where the class passes
 * diffusers' float32 VP-frame weights (see the note at the top of dpm_solver_math.ts).
 *
 * @example
 *   const x = sampleDpmpp2m(denoiser, xT, [14.6, 7.0, 3.1, 1.2, 0.4, 0]);
 */
export function sampleDpmpp2m(
  model: Denoiser,
  x: NDArray,
  sigmas: number[] | Float64Array | Float32Array,
  opts: KSamplerOptions = {},
): NDArray {
  const fn = 'sampleDpmpp2m';
  const s = sigmaArray(sigmas, fn);
  let oldDenoised: NDArray | null = null;
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    const t = tOf(s[i]);
    const tNext = tOf(s[i + 1]);
    const h = tNext - t;
    const ratio = s[i + 1] / s[i]; // = exp(-h)
    const phi1 = -Math.expm1(-h); // 1 - e^{-h}
    // DPM-Solver++(1): x_next = (sigma_next/sigma) x + (1 - e^{-h}) D
    const w = { a: ratio, b0: phi1, b1: 0.5 * phi1 };
    if (oldDenoised === null || s[i + 1] === 0) x = dpmFirstOrder(x, denoised, w);
    else {
      // Algorithm 2: D = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}, r = h_{i-1} / h_i
      const r = (t - tOf(s[i - 1])) / h;
      x = dpmMultistepSecondOrder(x, denoised, oldDenoised, w, 1 / r);
    }
    oldDenoised = denoised;
  }
  return x;
}

/**
 * DPM-Solver++(2M) SDE: the multistep second-order solver of the data-prediction reverse SDE
 * (SDE-DPM-Solver++ of Lu et al. 2022b; eta interpolates between the ODE, eta = 0, and the
 * full reverse SDE, eta = 1). The step to sigma = 0 returns the denoised sample.
 *
 * @example
 *   const x = sampleDpmpp2mSde(denoiser, xT, sigmas, { generator: philox, eta: 1 });
 */
export function sampleDpmpp2mSde(
  model: Denoiser,
  x: NDArray,
  sigmas: number[] | Float64Array | Float32Array,
  opts: KDpmpp2mSdeOptions = {},
): NDArray {
  const fn = 'sampleDpmpp2mSde';
  const solverType = opts.solverType ?? 'midpoint';
  if (solverType !== 'midpoint' && solverType !== 'heun') {
    throw new Error(
      `${fn}: opts.solverType = ${JSON.stringify(solverType)} is not supported; expected 'midpoint' or 'heun'`,
    );
  }
  const { eta, sNoise, s, noise } = stochasticStart(opts, x, sigmas, fn);
  let oldDenoised: NDArray | null = null;
  let hLast = NaN;
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    if (s[i + 1] === 0) {
      x = denoised; // final denoising step
      oldDenoised = denoised;
      continue;
    }
    const h = tOf(s[i + 1]) - tOf(s[i]);
    const etaH = eta * h;
    const phi = -Math.expm1(-h - etaH); // 1 - e^{-(1+eta)h}
    // x_next = (sigma_next/sigma) e^{-eta h} x + phi D + b1 (D - D_prev) / r + sigma_next sqrt(1 - e^{-2 eta h}) z
    const w = {
      a: (s[i + 1] / s[i]) * Math.exp(-etaH),
      b0: phi,
      b1: solverType === 'heun' ? phi / (-h - etaH) + 1 : 0.5 * phi,
      z: s[i + 1] * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise,
    };
    const z = eta ? noise(s[i], s[i + 1]) : null;
    if (oldDenoised === null) x = dpmFirstOrder(x, denoised, w, z);
    else x = dpmMultistepSecondOrder(x, denoised, oldDenoised, w, 1 / (hLast / h), z);
    oldDenoised = denoised;
    hLast = h;
  }
  return x;
}

/**
 * DPM-Solver++(3M) SDE: third-order multistep data-prediction solver with optional noise
 * (eta = 0 gives the 3M ODE solver; the Taylor coefficients phi_2, phi_3 are those of
 * DPM-Solver (Lu et al. 2022a, Sec. 3.3) evaluated at (1+eta) h).
 *
 * @example
 *   const x = sampleDpmpp3mSde(denoiser, xT, sigmas, { generator: philox });
 */
export function sampleDpmpp3mSde(
  model: Denoiser,
  x: NDArray,
  sigmas: number[] | Float64Array | Float32Array,
  opts: KStochasticOptions = {},
): NDArray {
  const fn = 'sampleDpmpp3mSde';
  const { eta, sNoise, s, noise } = stochasticStart(opts, x, sigmas, fn);
  let d1Prev: NDArray | null = null; // D_{i-1}
  let d2Prev: NDArray | null = null; // D_{i-2}
  let h1: number | null = null;
  let h2: number | null = null;
  let h: number | null = null;
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    if (s[i + 1] === 0) {
      x = denoised; // final denoising step
    } else {
      h = tOf(s[i + 1]) - tOf(s[i]);
      const hEta = h * (eta + 1);
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      const phi3 = phi2 / hEta - 0.5;
      // x_next = e^{-(1+eta)h} x + (1 - e^{-(1+eta)h}) D + phi2 D1 - phi3 D2 + sigma_next sqrt(1 - e^{-2 eta h}) z
      const w = {
        a: Math.exp(-hEta),
        b0: -Math.expm1(-hEta),
        b1: phi2,
        b2: -phi3,
        z: s[i + 1] * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise,
      };
      const z = eta ? noise(s[i], s[i + 1]) : null;
      if (h2 !== null && h1 !== null && d1Prev && d2Prev) {
        // quadratic extrapolation of D through the last three evaluations, r0 = h_{i-1} / h, r1 = h_{i-2} / h
        const r0 = h1 / h;
        const r1 = h2 / h;
        const ratios = { k0: 1 / r0, k1: 1 / r1, q: r0 / (r0 + r1), v: 1 / (r0 + r1) };
        x = dpmMultistepThirdOrder(x, [denoised, d1Prev, d2Prev], w, ratios, z);
      } else if (h1 !== null && d1Prev) x = dpmMultistepSecondOrder(x, denoised, d1Prev, w, 1 / (h1 / h), z);
      else x = dpmFirstOrder(x, denoised, w, z);
    }
    d2Prev = d1Prev;
    d1Prev = denoised;
    h2 = h1;
    h1 = h;
  }
  return x;
}

/**
 * Ancestral sampling with DPM-Solver++(2S) steps (Lu et al. 2022b Algorithm 1, singlestep
 * second order with the midpoint r = 1/2), followed by fresh noise of std sigmaUp.
 *
 * @example
 *   const x = sampleDpmpp2sAncestral(denoiser, xT, sigmas, { generator: philox, eta: 1 });
 */
export function sampleDpmpp2sAncestral(
  model: Denoiser,
  x: NDArray,
  sigmas: number[] | Float64Array | Float32Array,
  opts: KStochasticOptions = {},
): NDArray {
  const fn = 'sampleDpmpp2sAncestral';
  const { eta, sNoise, s, noise } = stochasticStart(opts, x, sigmas, fn);
  for (let i = 0; i < s.length - 1; i++) {
    const denoised = callDenoiser(model, x, s[i], fn);
    const { sigmaDown, sigmaUp } = ancestralStep(s[i], s[i + 1], eta);
    opts.callback?.({ i, x, sigma: s[i], sigmaHat: s[i], denoised });
    if (sigmaDown === 0) {
      // Euler step to sigma = 0 along d = (x - D) / sigma
      const dt = sigmaDown - s[i];
      x = lincomb([
        [1 + dt / s[i], x],
        [-dt / s[i], denoised],
      ]);
    } else {
      const t = tOf(s[i]);
      const tNext = tOf(sigmaDown);
      const r = 0.5;
      const h = tNext - t;
      const sMid = t + r * h;
      // Algorithm 1, intermediate point u = (sigma_s/sigma_t) x - (e^{-rh} - 1) D
      const x2 = lincomb([
        [sigmaOf(sMid) / sigmaOf(t), x],
        [-Math.expm1(-h * r), denoised],
      ]);
      const denoised2 = callDenoiser(model, x2, sigmaOf(sMid), fn);
      x = lincomb([
        [sigmaOf(tNext) / sigmaOf(t), x],
        [-Math.expm1(-h), denoised2],
      ]);
    }
    if (s[i + 1] > 0 && sigmaUp > 0) {
      const z = noise(s[i], s[i + 1]);
      x = lincomb([
        [1, x],
        [sNoise * sigmaUp, z],
      ]);
    }
  }
  return x;
}
