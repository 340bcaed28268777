/**
 * The DPM-Solver / DPM-Solver++ update, written once (Lu et al. 2022a, "DPM-Solver", arXiv:2206.00927;
 * Lu et al. 2022b, "DPM-Solver++", arXiv:2211.01095). With lambda = log(alpha / sigma) and h = lambda_t - lambda_s,
 * the linear part of the diffusion ODE integrates exactly and the rest is a Taylor expansion of the model
 * output in lambda, estimated from the last 1-3 outputs m0, m1, m2 by backward differences:
 *   x_t = a x_s + b0 D0 + b1 D1 + b2 D2 (+ z noise),   D0 = m0, D1 ~ dm/dlambda h, D2 ~ d2m/dlambda2 h^2 / 2.
 *
 * Two arithmetics compute the weights a, b0, b1, b2, z and call the same array updates below:
 * - the scheduler classes (DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler, DEIS order 1): diffusers'
 *   float32 torch scalars in the VP frame, `expIntCoefficients` (each operation rounded to float32);
 * - the functional samplers of k_dpmpp.ts: k-diffusion's float64 weights in the VE frame
 *   (sigma_next / sigma, -expm1(-h)).
 * Weights computed the other way would differ by a float32 rounding per step, which each oracle (diffusers'
 * fixtures, k-diffusion's) sees; so the weights stay in each caller's arithmetic and the algorithm (which
 * outputs enter with which weights) is here. Arrays are accumulated in float64 and rounded once (`lincomb`).
 *
 * @example
 *   const co = expIntCoefficients('dpmsolver++', vpFromSigma(sigmaNext), vpFromSigma(sigma), h);
 *   const x = dpmMultistepSecondOrder(sample, m0, m1, { ...co, b1: co.b1Midpoint }, invR0);
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import { dynamicThreshold } from '../diffusion/thresholding.ts';
import { predictionToEps, predictionToX0 } from '../diffusion/parameterization.ts';
import { lincomb } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** alpha_t, sigma_t and lambda_t of the VP process at noise level s = sigma_t / alpha_t. */
export interface VpPoint {
  alpha: number;
  sigma: number;
  lambda: number;
}

/**
 * alpha_t = 1 / sqrt(s^2 + 1), sigma_t = s alpha_t, lambda_t = log alpha_t - log sigma_t, as float32
 * torch scalars (diffusers' `_sigma_to_alpha_sigma_t`). s = 0 gives sigma = 0, lambda = +inf.
 * @example vpFromSigma(1)  // { alpha: 0.7071..., sigma: 0.7071..., lambda: 0 }
 */
export function vpFromSigma(s: number): VpPoint {
  // alpha = 1 / sqrt(s^2 + 1), sigma = s alpha, lambda = log alpha - log sigma
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(s * s) + 1))));
  const sigma = f32(s * alpha);
  const lambda = f32(f32(Math.log(alpha)) - f32(Math.log(sigma)));
  return { alpha, sigma, lambda };
}

/**
 * Coefficients of one exponential-integrator step from the base point s to t, h = lambda_t - lambda_s, as
 * diffusers' float32 torch scalars. The update is x_t = a x_s + b0 D0 + b1 D1 (+ b2 D2) (+ z noise) with
 * D0 the model output at s and D1, D2 the divided-difference estimates of its derivatives in lambda:
 * - 'dpmsolver++' (data prediction, DPM-Solver++ Sec. 4.1): a = sigma_t/sigma_s, b0 = -alpha_t (e^{-h} - 1),
 *   b1 = alpha_t ((e^{-h} - 1)/h + 1) (Taylor, 'heun') or b0/2 ('midpoint'), b2 = -alpha_t ((e^{-h} - 1 + h)/h^2 - 1/2);
 * - 'dpmsolver' (noise prediction, DPM-Solver Sec. 3.3; also DEIS order 1): a = alpha_t/alpha_s,
 *   b0 = -sigma_t (e^h - 1), b1 = -sigma_t ((e^h - 1)/h - 1) or b0/2, b2 = -sigma_t ((e^h - 1 - h)/h^2 - 1/2);
 * - 'sde-dpmsolver++' (SDE-DPM-Solver++): a = (sigma_t/sigma_s) e^{-h}, b0 = alpha_t (1 - e^{-2h}),
 *   b1 = alpha_t ((1 - e^{-2h})/(-2h) + 1) or b0/2, b2 = alpha_t ((1 - e^{-2h} - 2h)/(2h)^2 - 1/2),
 *   z = sigma_t sqrt(1 - e^{-2h});
 * - 'sde-dpmsolver': a = alpha_t/alpha_s, b0 = -2 sigma_t (e^h - 1), b1 = 2 x the 'dpmsolver' value or b0/2,
 *   z = sigma_t sqrt(e^{2h} - 1); no b2 (diffusers has no third order here: NaN).
 * @example const co = expIntCoefficients('dpmsolver++', vpFromSigma(0.5), vpFromSigma(1), h);
 */
export function expIntCoefficients(algorithm: string, t: VpPoint, s: VpPoint, h: number): ExpIntCoefficients {
  switch (algorithm) {
    case 'dpmsolver++': {
      const em = f32(f32(Math.exp(-h)) - 1); // e^{-h} - 1
      // a = sigma_t / sigma_s, b0 = -alpha_t (e^{-h} - 1), b1 = b0 / 2 (midpoint) or alpha_t ((e^{-h} - 1)/h + 1) (heun),
      // b2 = -alpha_t ((e^{-h} - 1 + h) / h^2 - 1/2)
      return {
        a: f32(t.sigma / s.sigma),
        b0: -f32(t.alpha * em),
        b1Midpoint: -f32(0.5 * f32(t.alpha * em)),
        b1Heun: f32(t.alpha * f32(f32(em / h) + 1)),
        b2: -f32(t.alpha * f32(f32(f32(em + h) / f32(h * h)) - 0.5)),
        z: 0,
      };
    }
    case 'dpmsolver': {
      const ep = f32(f32(Math.exp(h)) - 1); // e^{h} - 1
      // a = alpha_t / alpha_s, b0 = -sigma_t (e^h - 1), b1 = b0 / 2 (midpoint) or -sigma_t ((e^h - 1)/h - 1) (heun),
      // b2 = -sigma_t ((e^h - 1 - h) / h^2 - 1/2)
      return {
        a: f32(t.alpha / s.alpha),
        b0: -f32(t.sigma * ep),
        b1Midpoint: -f32(0.5 * f32(t.sigma * ep)),
        b1Heun: -f32(t.sigma * f32(f32(ep / h) - 1)),
        b2: -f32(t.sigma * f32(f32(f32(ep - h) / f32(h * h)) - 0.5)),
        z: 0,
      };
    }
    case 'sde-dpmsolver++': {
      const one = f32(1 - f32(Math.exp(f32(-2 * h)))); // 1 - e^{-2h}
      const m2h = f32(-2 * h);
      // a = sigma_t / sigma_s e^{-h}, b0 = alpha_t (1 - e^{-2h}), b1 = b0 / 2 or alpha_t ((1 - e^{-2h}) / (-2h) + 1),
      // z = sigma_t sqrt(1 - e^{-2h})
      return {
        a: f32(f32(t.sigma / s.sigma) * f32(Math.exp(-h))),
        b0: f32(t.alpha * one),
        b1Midpoint: f32(0.5 * f32(t.alpha * one)),
        b1Heun: f32(t.alpha * f32(f32(one / m2h) + 1)),
        b2: f32(t.alpha * f32(f32(f32(one + m2h) / f32(m2h * m2h)) - 0.5)),
        z: f32(t.sigma * f32(Math.sqrt(one))),
      };
    }
    case 'sde-dpmsolver': {
      const ep = f32(f32(Math.exp(h)) - 1); // e^{h} - 1
      // a = alpha_t / alpha_s, b0 = -2 sigma_t (e^h - 1), z = sigma_t sqrt(e^{2h} - 1)
      return {
        a: f32(t.alpha / s.alpha),
        b0: -f32(2 * f32(t.sigma * ep)),
        b1Midpoint: -f32(t.sigma * ep),
        b1Heun: -f32(2 * f32(t.sigma * f32(f32(ep / h) - 1))),
        b2: NaN,
        z: f32(t.sigma * f32(Math.sqrt(f32(f32(Math.exp(f32(2 * h))) - 1)))),
      };
    }
    default:
      throw new Error(
        `expIntCoefficients: algorithm_type = ${JSON.stringify(algorithm)} is not supported; allowed values: 'dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver'`,
      );
  }
}

/** See {@link expIntCoefficients}. */
export interface ExpIntCoefficients {
  /** weight of the base sample x_s */
  a: number;
  /** weight of D0 (the model output at s) */
  b0: number;
  /** weight of D1 for solver_type 'midpoint' (half the first-order weight) */
  b1Midpoint: number;
  /** weight of D1 for solver_type 'heun' (the phi_2 Taylor term); also the third-order D1 weight */
  b1Heun: number;
  /** weight of D2 (phi_3 Taylor term) of third-order updates */
  b2: number;
  /** weight of the standard-normal noise (SDE variants; 0 for the ODE ones) */
  z: number;
}

/** The weights of one update x_t = a x_s + b0 D0 + b1 D1 + b2 D2 + z noise (z: SDE variants only). */
export interface DpmWeights {
  /** weight of the base sample x_s */
  a: number;
  /** weight of D0 = m0 */
  b0: number;
  /** weight of D1 (second and third order) */
  b1?: number;
  /** weight of D2 (third order) */
  b2?: number;
  /** weight of the standard-normal noise */
  z?: number;
}

/** a x + sum_k c_k m_k (+ z noise), rounded once. */
function update(x: NDArray, w: DpmWeights, outputs: Array<[number, NDArray]>, noise: NDArray | null): NDArray {
  const terms: Array<[number, NDArray]> = [[w.a, x], ...outputs];
  if (noise) terms.push([w.z ?? 0, noise]);
  return lincomb(terms);
}

/**
 * First order (DPM-Solver-1 / DPM-Solver++(1), which is DDIM; DPM-Solver Sec. 3.3, DPM-Solver++ Sec. 4.1):
 *   x_t = a x_s + b0 m0 (+ z noise).
 * @example dpmFirstOrder(x, x0, expIntCoefficients('dpmsolver++', t, s, h))
 */
export function dpmFirstOrder(x: NDArray, m0: NDArray, w: DpmWeights, noise: NDArray | null = null): NDArray {
  return update(x, w, [[w.b0, m0]], noise);
}

/**
 * Multistep second order (DPM-Solver++(2M), Lu et al. 2022b Algorithm 2, and its noise-prediction and SDE
 * forms): D1 = (m0 - m1) / r0 with r0 = h_0 / h the ratio of the last two steps in lambda, so
 *   x_t = a x_s + b0 m0 + b1 (m0 - m1) / r0 (+ z noise),
 * given `invR0` = 1 / r0 in the caller's arithmetic. 'midpoint': b1 = b0 / 2; 'heun': b1 = the phi_2 weight.
 * @example dpmMultistepSecondOrder(x, m0, m1, { a, b0, b1: b0 / 2 }, 1 / r0)
 */
export function dpmMultistepSecondOrder(
  x: NDArray,
  m0: NDArray,
  m1: NDArray,
  w: DpmWeights,
  invR0: number,
  noise: NDArray | null = null,
): NDArray {
  // x_t = a x + b0 m0 + b1 invR0 (m0 - m1)
  const w1 = (w.b1 ?? 0) * invR0;
  return update(
    x,
    w,
    [
      [w.b0 + w1, m0],
      [-w1, m1],
    ],
    noise,
  );
}

/** The divided differences of a third-order multistep update (see dpmMultistepThirdOrder). */
export interface ThirdOrderRatios {
  /** 1 / r0, r0 = h_0 / h */
  k0: number;
  /** 1 / r1, r1 = h_1 / h */
  k1: number;
  /** r0 / (r0 + r1) */
  q: number;
  /** 1 / (r0 + r1) */
  v: number;
}

/**
 * Multistep third order (Lu et al. 2022a Sec. 3.3, 2022b): backward differences D1_0 = (m0 - m1) / r0,
 * D1_1 = (m1 - m2) / r1, then D1 = D1_0 + q (D1_0 - D1_1) and D2 = v (D1_0 - D1_1), and
 *   x_t = a x_s + b0 m0 + b1 D1 + b2 D2 (+ z noise).
 * (As in diffusers and k-diffusion, D2 enters with the phi_3 weight b2, not 2 b2.)
 * @example dpmMultistepThirdOrder(x, [m0, m1, m2], { a, b0, b1, b2 }, { k0: 1 / r0, k1: 1 / r1, q: r0 / (r0 + r1), v: 1 / (r0 + r1) })
 */
export function dpmMultistepThirdOrder(
  x: NDArray,
  [m0, m1, m2]: readonly [NDArray, NDArray, NDArray],
  w: DpmWeights,
  r: ThirdOrderRatios,
  noise: NDArray | null = null,
): NDArray {
  const b1 = w.b1 ?? 0,
    b2 = w.b2 ?? 0;
  // b1 D1 + b2 D2 = c10 D1_0 + c11 D1_1
  const c10 = b1 * (1 + r.q) + b2 * r.v;
  const c11 = -b1 * r.q - b2 * r.v;
  // D1_0 = k0 (m0 - m1), D1_1 = k1 (m1 - m2)
  return update(
    x,
    w,
    [
      [w.b0 + c10 * r.k0, m0],
      [-c10 * r.k0 + c11 * r.k1, m1],
      [-c11 * r.k1, m2],
    ],
    noise,
  );
}

/** What decides the order of a multistep step (diffusers' DPM-Solver multistep, DEIS, EDM DPM-Solver). */
export interface MultistepOrderRule {
  /** this step's index in the grid */
  i: number;
  /** number of steps in the grid */
  steps: number;
  /** the config's solver_order */
  solverOrder: number;
  /** steps run so far, capped at solverOrder (the warm-up) */
  warm: number;
  /** lower_order_final: first order at the last step and at most second at the one before, under 15 steps */
  lowerOrderFinal: boolean;
  /** euler_at_final: first order at the last step */
  eulerAtFinal?: boolean;
  /** the final sigma is 0: first order at the last step */
  finalSigmaZero?: boolean;
}

/**
 * Order of multistep step i: min(solver_order, steps so far + 1), lowered to 1 at the last step (euler_at_final,
 * a final sigma of 0, or lower_order_final with fewer than 15 steps) and to 2 at the second-to-last
 * (lower_order_final with fewer than 15 steps).
 * @example multistepOrder({ i: 0, steps: 10, solverOrder: 2, warm: 0, lowerOrderFinal: true })  // 1
 */
export function multistepOrder(o: MultistepOrderRule): number {
  const short = o.lowerOrderFinal && o.steps < 15;
  const lowerAtLast = o.i === o.steps - 1 && (o.eulerAtFinal === true || short || o.finalSigmaZero === true);
  const lowerAtSecondLast = o.i === o.steps - 2 && short;
  if (o.solverOrder === 1 || o.warm < 1 || lowerAtLast) return 1;
  if (o.solverOrder === 2 || o.warm < 2 || lowerAtSecondLast) return 2;
  return 3;
}

/** How a DPM-Solver class reads the model output (diffusers' convert_model_output options). */
export interface DpmOutputOptions {
  /** 'dpmsolver++' / 'sde-dpmsolver++' (data prediction: x0) or 'dpmsolver' / 'sde-dpmsolver' (eps) */
  algorithm: string;
  predictionType: string;
  /** dynamic thresholding of x0 (Imagen, Saharia et al. 2022, Sec. 2.3): [ratio, max] or null */
  threshold: readonly [number, number] | null;
}

/**
 * DPM-Solver's model-output conversion (diffusers' convert_model_output): x0 for the data-prediction types,
 * eps for the noise-prediction types, at the grid point (alpha, sigma). Thresholding acts on x0 (for noise
 * prediction eps is recomputed from the thresholded x0).
 * @example dpmConvertModelOutput(eps, x, vpFromSigma(1), { algorithm: 'dpmsolver++', predictionType: 'epsilon', threshold: null })
 */
export function dpmConvertModelOutput(
  out: NDArray,
  sample: NDArray,
  { alpha, sigma }: VpPoint,
  o: DpmOutputOptions,
): { converted: NDArray; x0: NDArray } {
  const threshold = (x0: NDArray): NDArray => (o.threshold ? dynamicThreshold(x0, ...o.threshold) : x0);
  if (o.algorithm === 'dpmsolver++' || o.algorithm === 'sde-dpmsolver++') {
    const x0 = threshold(predictionToX0(out, o.predictionType, sample, alpha, sigma));
    return { converted: x0, x0 };
  }
  let eps = predictionToEps(out, o.predictionType, sample, alpha, sigma);
  let x0 = predictionToX0(eps, 'epsilon', sample, alpha, sigma);
  if (o.threshold) {
    x0 = threshold(x0);
    eps = predictionToEps(x0, 'sample', sample, alpha, sigma);
  }
  return { converted: eps, x0 };
}

/**
 * The mean channels of a model output: the first C channels of a [B, 2C, ...] output when the model also
 * predicts variances (variance_type 'learned' / 'learned_range'), else the output itself (shapes checked).
 * @example meanChannels(out, x, 'learned_range', 'DPMSolverMultistepScheduler')
 */
export function meanChannels(
  modelOutput: NDArray,
  sample: NDArray,
  varianceType: string | null | undefined,
  owner: string,
): NDArray {
  const vt = varianceType;
  if ((vt === 'learned' || vt === 'learned_range') && !sameShape(modelOutput.shape, sample.shape)) {
    const [B, C2, ...rest] = modelOutput.shape;
    const C = sample.shape[1];
    if (sample.shape[0] !== B || C2 < C || rest.join() !== sample.shape.slice(2).join()) {
      throw new Error(
        `${owner}.step: model output of shape [${modelOutput.shape.join(', ')}] does not hold the ${C} mean channels of a sample of shape [${sample.shape.join(', ')}]`,
      );
    }
    const inner = rest.reduce((p, d) => p * d, 1);
    const out = new NDArray(sample.shape);
    for (let b = 0; b < B; b++)
      out.data.set(modelOutput.data.subarray(b * C2 * inner, (b * C2 + C) * inner), b * C * inner);
    return out;
  }
  if (!sameShape(modelOutput.shape, sample.shape)) {
    throw new Error(
      `${owner}.step: model output shape [${modelOutput.shape.join(', ')}] differs from sample shape [${sample.shape.join(', ')}]${vt == null ? " (set variance_type: 'learned_range' if the model also predicts variances)" : ''}`,
    );
  }
  return modelOutput;
}
