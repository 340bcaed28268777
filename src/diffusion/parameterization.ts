/**
 * Conversions between what a network can predict for a VP diffusion x_t = alpha_t x_0 + sigma_t eps
 * (alpha_t = sqrt(alphaBar_t), sigma_t = sqrt(1 - alphaBar_t)):
 *   epsilon (noise, DDPM eq. 11), sample (x_0), v_prediction (v = alpha_t eps - sigma_t x_0, Salimans &
 *   Ho 2022 sec. 4) and score (grad_x log p_t(x) = -eps / sigma_t, Song et al. 2021 eq. 4 / Tweedie).
 * Every conversion uses float32 arithmetic in the order diffusers' schedulers use, so x0 computed here
 * equals a scheduler's `pred_original_sample` bit for bit.
 *
 * @example
 *   const a = Math.sqrt(alphaBar), s = Math.sqrt(1 - alphaBar);
 *   const x0 = predictionToX0(eps, 'epsilon', xt, a, s);       // (x_t - s eps) / a
 *   const eps2 = predictionToEps(x0, 'sample', xt, a, s);       // (x_t - a x0) / s
 *   const score = epsToScore(eps, s);                           // -eps / s
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import { checkCoeff, type Coeff } from './broadcast.ts';
import { f32 } from '../engine/f32.ts';

/** The prediction types diffusers knows (`prediction_type`). */
export const PREDICTION_TYPES = ['epsilon', 'sample', 'v_prediction'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

/** Error for an unknown prediction type, naming the key and the allowed values. */
export function badPredictionType(
  value: unknown,
  owner = 'prediction_type',
  allowed: readonly string[] = PREDICTION_TYPES,
): Error {
  return new Error(
    `${owner}: prediction_type = ${JSON.stringify(value)} is not supported; allowed values: ${allowed.map((s) => `'${s}'`).join(', ')}`,
  );
}

/** out[b, i] = f(p[b, i], q[b, i], c1[b], c2[b]) with shape checks. */
function zip2(
  p: NDArray,
  q: NDArray,
  c1: Coeff,
  c2: Coeff,
  name: string,
  f: (p: number, q: number, c1: number, c2: number) => number,
): NDArray {
  if (!sameShape(p.shape, q.shape))
    throw new Error(`${name}: shapes [${p.shape.join(', ')}] and [${q.shape.join(', ')}] differ`);
  checkCoeff(c1, p, name);
  checkCoeff(c2, p, name);
  const out = new NDArray(p.shape);
  const B = p.ndim === 0 ? 1 : p.shape[0];
  const per = B === 0 ? 0 : p.size / B;
  const at = (c: Coeff, b: number) => (typeof c === 'number' ? c : c.length === 1 ? c[0] : c[b]);
  for (let b = 0; b < B; b++) {
    const k1 = at(c1, b),
      k2 = at(c2, b);
    for (let i = b * per; i < (b + 1) * per; i++) out.data[i] = f(p.data[i], q.data[i], k1, k2);
  }
  return out;
}

/**
 * x_0 from a model output: epsilon -> (x_t - sigma eps) / alpha (DDPM eq. 15); sample -> itself;
 * v_prediction -> alpha x_t - sigma v.
 * @example predictionToX0(v, 'v_prediction', xt, 0.8, 0.6)
 */
export function predictionToX0(output: NDArray, type: string, xt: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  switch (type) {
    case 'epsilon':
      return zip2(xt, output, sigma, alpha, 'predictionToX0', (x, e, s, a) => f32(f32(x - f32(s * e)) / a));
    case 'sample':
      return output;
    case 'v_prediction':
      return zip2(xt, output, alpha, sigma, 'predictionToX0', (x, v, a, s) => f32(a * x) - f32(s * v));
    default:
      throw badPredictionType(type, 'predictionToX0');
  }
}

/**
 * eps from a model output: epsilon -> itself; sample -> (x_t - alpha x_0) / sigma; v_prediction -> alpha v + sigma x_t.
 * @example predictionToEps(x0, 'sample', xt, 0.8, 0.6)
 */
export function predictionToEps(output: NDArray, type: string, xt: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  switch (type) {
    case 'epsilon':
      return output;
    case 'sample':
      return zip2(xt, output, alpha, sigma, 'predictionToEps', (x, x0, a, s) => f32(f32(x - f32(a * x0)) / s));
    case 'v_prediction':
      return zip2(output, xt, alpha, sigma, 'predictionToEps', (v, x, a, s) => f32(a * v) + f32(s * x));
    default:
      throw badPredictionType(type, 'predictionToEps');
  }
}

/**
 * v from a model output: v_prediction -> itself; otherwise v = alpha eps - sigma x_0 with eps, x_0 from the output.
 * @example predictionToV(eps, 'epsilon', xt, 0.8, 0.6)
 */
export function predictionToV(output: NDArray, type: string, xt: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  if (type === 'v_prediction') return output;
  const eps = predictionToEps(output, type, xt, alpha, sigma);
  const x0 = predictionToX0(output, type, xt, alpha, sigma);
  return zip2(eps, x0, alpha, sigma, 'predictionToV', (e, x, a, s) => f32(a * e) - f32(s * x));
}

/** eps -> x_0 = (x_t - sigma eps) / alpha. @example epsToX0(xt, eps, 0.8, 0.6) */
export function epsToX0(xt: NDArray, eps: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  return predictionToX0(eps, 'epsilon', xt, alpha, sigma);
}

/** x_0 -> eps = (x_t - alpha x_0) / sigma. @example x0ToEps(xt, x0, 0.8, 0.6) */
export function x0ToEps(xt: NDArray, x0: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  return predictionToEps(x0, 'sample', xt, alpha, sigma);
}

/** v -> x_0 = alpha x_t - sigma v. @example vToX0(xt, v, 0.8, 0.6) */
export function vToX0(xt: NDArray, v: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  return predictionToX0(v, 'v_prediction', xt, alpha, sigma);
}

/** v -> eps = alpha v + sigma x_t. @example vToEps(xt, v, 0.8, 0.6) */
export function vToEps(xt: NDArray, v: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  return predictionToEps(v, 'v_prediction', xt, alpha, sigma);
}

/** (eps, x_0) -> v = alpha eps - sigma x_0 (Salimans & Ho 2022, sec. 4). @example epsX0ToV(eps, x0, 0.8, 0.6) */
export function epsX0ToV(eps: NDArray, x0: NDArray, alpha: Coeff, sigma: Coeff): NDArray {
  return zip2(eps, x0, alpha, sigma, 'epsX0ToV', (e, x, a, s) => f32(a * e) - f32(s * x));
}

/** Score of the noised marginal from the noise prediction: grad log p_t(x_t) = -eps / sigma_t. @example epsToScore(eps, 0.6) */
export function epsToScore(eps: NDArray, sigma: Coeff): NDArray {
  checkCoeff(sigma, eps, 'epsToScore');
  return zip2(eps, eps, sigma, sigma, 'epsToScore', (e, _e, s) => f32(-e / s));
}

/** Noise prediction from the score: eps = -sigma_t * score. @example scoreToEps(score, 0.6) */
export function scoreToEps(score: NDArray, sigma: Coeff): NDArray {
  return zip2(score, score, sigma, sigma, 'scoreToEps', (g, _g, s) => f32(-s * g));
}
