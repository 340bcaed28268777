/**
 * Reverse-process variances of DDPM, sigma_t^2 in p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I)
 * (Ho et al. 2020, sec. 3.2), with diffusers' `variance_type` names:
 *   fixed_small      beta~_t = (1 - alphaBar_{t-1}) / (1 - alphaBar_t) * beta_t   (posterior variance, DDPM eq. 7)
 *   fixed_small_log  its standard deviation, computed through the log (rl-diffuser)
 *   fixed_large      beta_t
 *   fixed_large_log  log(beta_t) (Glide)
 *   learned          the model's output is the variance itself
 *   learned_range    log-variance interpolated between log beta~_t and log beta_t by the model output
 *                    v in [-1, 1]: frac = (v + 1) / 2 (Nichol & Dhariwal 2021, eq. 15)
 * Here beta_t = 1 - alphaBar_t / alphaBar_{prev} so that skipped steps use the effective beta.
 *
 * @example
 *   const v = ddpmVariance('fixed_small', alphasCumprod[t], t > 0 ? alphasCumprod[prev] : 1);  // a number
 *   const lv = ddpmVariance('learned_range', abarT, abarPrev, predictedVariance);         // an NDArray
 */
import type { NDArray } from '../engine/ndarray.ts';
import { f32 } from '../engine/f32.ts';

export const VARIANCE_TYPES = [
  'fixed_small',
  'fixed_small_log',
  'fixed_large',
  'fixed_large_log',
  'learned',
  'learned_range',
] as const;
export type VarianceType = (typeof VARIANCE_TYPES)[number];

/** Error for an unknown `variance_type`. */
export function badVarianceType(value: unknown, owner = 'variance_type'): Error {
  return new Error(
    `${owner}: variance_type = ${JSON.stringify(value)} is not supported; allowed values: ${VARIANCE_TYPES.map((s) => `'${s}'`).join(', ')}`,
  );
}

/**
 * Posterior variance beta~_t = (1 - alphaBar_prev) / (1 - alphaBar_t) * (1 - alphaBar_t / alphaBar_prev) (DDPM eq. 7),
 * clamped at 1e-20 (diffusers takes its log), float32.
 * @example posteriorVariance(0.5, 0.6)
 */
export function posteriorVariance(alphaProdT: number, alphaProdTPrev: number): number {
  const currentBetaT = f32(1 - f32(alphaProdT / alphaProdTPrev));
  const v = f32(f32(f32(1 - alphaProdTPrev) / f32(1 - alphaProdT)) * currentBetaT);
  return Math.max(v, f32(1e-20));
}

/**
 * The variance-type quantity diffusers' DDPMScheduler._get_variance returns: a variance (fixed_small,
 * fixed_large, learned), a standard deviation (fixed_small_log) or a log-variance (fixed_large_log,
 * learned_range). Learned types need `predictedVariance` and return an NDArray.
 * @example ddpmVariance('fixed_large', 0.5, 0.6)  // 1 - 0.5 / 0.6
 */
export function ddpmVariance(
  type: string,
  alphaProdT: number,
  alphaProdTPrev: number,
  predictedVariance?: NDArray | null,
): number | NDArray {
  const currentBetaT = f32(1 - f32(alphaProdT / alphaProdTPrev));
  const variance = posteriorVariance(alphaProdT, alphaProdTPrev);
  switch (type) {
    case 'fixed_small':
      return variance;
    case 'fixed_small_log':
      return f32(Math.exp(f32(0.5 * f32(Math.log(variance)))));
    case 'fixed_large':
      return currentBetaT;
    case 'fixed_large_log':
      return f32(Math.log(currentBetaT));
    case 'learned':
      if (!predictedVariance)
        throw new Error(
          "ddpmVariance: variance_type 'learned' needs the model's predicted variance (a model output with 2x the sample's channels)",
        );
      return predictedVariance;
    case 'learned_range': {
      if (!predictedVariance)
        throw new Error(
          "ddpmVariance: variance_type 'learned_range' needs the model's predicted variance (a model output with 2x the sample's channels)",
        );
      const minLog = f32(Math.log(variance));
      const maxLog = f32(Math.log(currentBetaT));
      // Improved DDPM eq. (15): log Sigma = v log beta_t + (1 - v) log beta~_t, v = (out + 1) / 2
      return predictedVariance.map((p) => {
        const frac = f32(f32(p + 1) / 2);
        return f32(f32(frac * maxLog) + f32(f32(1 - frac) * minLog));
      });
    }
    default:
      throw badVarianceType(type, 'ddpmVariance');
  }
}
