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
 * The same update as DPMSolverMultistepScheduler's second order ('dpmsolver++', 'midpoint'); both build the
 * array with the one `lincomb`, but the scalar weights are computed twice on purpose: here in float64 in the
 * VE frame with k-diffusion's formula (sigma_next / sigma, -expm1(-h); test/samplers/k_dpmpp_oracle), there as
 * diffusers' float32 torch scalars in the VP frame (alpha_t (e^{-h} - 1), each operation rounded; the diffusers
 * fixtures). Either formula in both places changes the other's results by float32 rounding every step (not
 * bit-identical), so the two coefficient formulas stay.
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
    if (oldDenoised === null || s[i + 1] === 0) {
      // DPM-Solver++(1): x_next = (sigma_next/sigma) x + (1 - e^{-h}) D
      x = lincomb([
        [ratio, x],
        [phi1, denoised],
      ]);
    } else {
      // Algorithm 2: D = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}, r = h_{i-1} / h_i
      const hLast = t - tOf(s[i - 1]);
      const r = hLast / h;
      const c = 1 / (2 * r);
      x = lincomb([
        [ratio, x],
        [phi1 * (1 + c), denoised],
        [-phi1 * c, oldDenoised],
      ]);
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
    const terms: Array<[number, NDArray]> = [
      [(s[i + 1] / s[i]) * Math.exp(-etaH), x],
      [phi, denoised],
    ];
    if (oldDenoised !== null) {
      const r = hLast / h;
      // first divided difference (D_i - D_{i-1}) / r, weighted per solver type
      const w = solverType === 'heun' ? (phi / (-h - etaH) + 1) / r : (0.5 * phi) / r;
      terms.push([w, denoised], [-w, oldDenoised]);
    }
    if (eta) {
      const z = noise(s[i], s[i + 1]);
      terms.push([s[i + 1] * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise, z]);
    }
    x = lincomb(terms);
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
      const terms: Array<[number, NDArray]> = [
        [Math.exp(-hEta), x],
        [-Math.expm1(-hEta), denoised],
      ];
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      if (h2 !== null && h1 !== null && d1Prev && d2Prev) {
        // quadratic extrapolation of D through the last three evaluations
        const r0 = h1 / h;
        const r1 = h2 / h;
        const phi3 = phi2 / hEta - 0.5;
        // d1_0 = (D - D1)/r0, d1_1 = (D1 - D2)/r1
        // d1 = d1_0 + (d1_0 - d1_1) r0/(r0+r1), d2 = (d1_0 - d1_1)/(r0+r1); x += phi2 d1 - phi3 d2
        const a = r0 / (r0 + r1);
        const b = 1 / (r0 + r1);
        // coefficients of d1_0 and d1_1 in (phi2 d1 - phi3 d2)
        const c10 = phi2 * (1 + a) - phi3 * b;
        const c11 = -phi2 * a + phi3 * b;
        terms.push([c10 / r0, denoised], [-c10 / r0 + c11 / r1, d1Prev], [-c11 / r1, d2Prev]);
      } else if (h1 !== null && d1Prev) {
        const r = h1 / h;
        terms.push([phi2 / r, denoised], [-phi2 / r, d1Prev]);
      }
      if (eta) {
        const z = noise(s[i], s[i + 1]);
        terms.push([s[i + 1] * Math.sqrt(-Math.expm1(-2 * h * eta)) * sNoise, z]);
      }
      x = lincomb(terms);
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
