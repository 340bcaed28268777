/**
 * The shared numerics of the variance-preserving (alphaBar) schedulers DDPM, DDIM, DDIM inverse and PNDM:
 * x_0 and eps from a model output, clipping / thresholding of x_0, and the two float32 array updates their
 * steps are made of. Every function reproduces diffusers' float32 tensor operations in diffusers' order
 * (each product and quotient rounded to float32, as a torch float32 tensor stores it).
 *
 * @example
 *   const x0 = vpPredOriginal(eps, x, abarT, 'epsilon', 'DDIMScheduler');
 *   const prev = scaledSum(Math.fround(Math.sqrt(abarPrev)), x0, dirCoeff, eps);   // DDIM eq. (12) without noise
 */
import { NDArray } from '../engine/ndarray.ts';
import { f32 } from '../engine/f32.ts';
import { clipSample, dynamicThreshold } from '../diffusion/thresholding.ts';
import { badPredictionType } from '../diffusion/parameterization.ts';
import { COMMON_KEYS, type ConfigOf } from './scheduler.ts';

function checkSameSize(a: NDArray, b: NDArray): void {
  if (a.size !== b.size) throw new Error(`shape mismatch: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
}

/**
 * out = ca a + cb b, each product rounded to float32 (torch: `ca * a + cb * b` on float32 tensors).
 * @example scaledSum(0.5, x0, 0.25, eps)
 */
export function scaledSum(ca: number, a: NDArray, cb: number, b: NDArray): NDArray {
  checkSameSize(a, b);
  const out = new NDArray(a.shape),
    o = out.data,
    ad = a.data,
    bd = b.data;
  // out = ca a + cb b
  for (let i = 0; i < o.length; i++) o[i] = f32(ca * ad[i]) + f32(cb * bd[i]);
  return out;
}

/**
 * out = (x - c y) / d, each operation rounded to float32 (torch: `(x - c * y) / d`).
 * @example unscaleDiff(x, sqrtOneMinusAbar, eps, sqrtAbar)   // x_0 from eps
 */
export function unscaleDiff(x: NDArray, c: number, y: NDArray, d: number): NDArray {
  checkSameSize(x, y);
  const out = new NDArray(x.shape),
    o = out.data,
    xd = x.data,
    yd = y.data;
  // out = (x - c y) / d
  for (let i = 0; i < o.length; i++) o[i] = f32(xd[i] - f32(c * yd[i])) / d;
  return out;
}

/**
 * x_0 from a model output for VP schedulers, in diffusers' float32 operation order.
 * epsilon: (x - sqrt(1 - abar) eps) / sqrt(abar); sample: itself; v: sqrt(abar) x - sqrt(1 - abar) v.
 * @example vpPredOriginal(eps, x, 0.5, 'epsilon', 'DDPMScheduler')
 */
export function vpPredOriginal(
  modelOutput: NDArray,
  sample: NDArray,
  alphaProdT: number,
  predictionType: string,
  owner: string,
  allowed: readonly string[] = ['epsilon', 'sample', 'v_prediction'],
): NDArray {
  const betaProdT = f32(1 - alphaProdT);
  const sa = f32(Math.sqrt(alphaProdT)),
    sb = f32(Math.sqrt(betaProdT));
  if (!allowed.includes(predictionType)) throw badPredictionType(predictionType, `${owner}.step`, allowed);
  switch (predictionType) {
    // x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)   (DDPM eq. 15)
    case 'epsilon':
      return unscaleDiff(sample, sb, modelOutput, sa);
    case 'sample':
      return modelOutput;
    // x_0 = sqrt(abar) x_t - sqrt(1 - abar) v   (Salimans & Ho 2022, Sec. 4)
    case 'v_prediction':
      return scaledSum(sa, sample, -sb, modelOutput);
    default:
      throw badPredictionType(predictionType, `${owner}.step`, allowed);
  }
}

/**
 * eps from a VP model output (diffusers' DDIM `pred_epsilon`), float32 in diffusers' order.
 * @example vpPredEpsilon(v, x, 0.5, 'v_prediction', x0)
 */
export function vpPredEpsilon(
  modelOutput: NDArray,
  sample: NDArray,
  alphaProdT: number,
  predictionType: string,
  x0: NDArray,
): NDArray {
  const sa = f32(Math.sqrt(alphaProdT)),
    sb = f32(Math.sqrt(f32(1 - alphaProdT)));
  switch (predictionType) {
    case 'epsilon':
      return modelOutput;
    // eps = (x_t - sqrt(abar) x_0) / sqrt(1 - abar)
    case 'sample':
      return unscaleDiff(sample, sa, x0, sb);
    // eps = sqrt(abar) v + sqrt(1 - abar) x_t
    case 'v_prediction':
      return scaledSum(sa, modelOutput, sb, sample);
    default:
      throw new Error(`prediction_type = ${JSON.stringify(predictionType)} is not supported`);
  }
}

/** The x_0 clipping keys of a VP scheduler config (DDIMInverseScheduler has no thresholding keys: off). */
export type ClipConfig = ConfigOf<Pick<typeof COMMON_KEYS, 'clip_sample' | 'clip_sample_range'>> &
  Partial<ConfigOf<Pick<typeof COMMON_KEYS, 'thresholding' | 'dynamic_thresholding_ratio' | 'sample_max_value'>>>;

/** Clip or dynamically threshold x_0 as the config asks (diffusers: thresholding wins over clip_sample). */
export function clipOrThreshold(x0: NDArray, config: ClipConfig): NDArray {
  if (config.thresholding)
    return dynamicThreshold(
      x0,
      config.dynamic_thresholding_ratio ?? COMMON_KEYS.dynamic_thresholding_ratio.default,
      config.sample_max_value ?? COMMON_KEYS.sample_max_value.default,
    );
  if (config.clip_sample) return clipSample(x0, config.clip_sample_range);
  return x0;
}
