/**
 * The noise schedule a model was trained with, seen from the metrics: the alphasCumprod table of its
 * `scheduler_config.json`, the noise levels sigma_t = sqrt((1 - abar_t) / abar_t) (Karras et al. 2022,
 * EDM table 1, VP column) in float64, and the map sigma -> fractional timestep.
 *
 * @example
 *   const abar = trainingAlphasCumprod(loaded.schedulerConfig);
 *   const { sigmas, timestepOf } = sigmaTable(abar);
 *   timestepOf(sigmas[10]);   // 10
 */
import { BetaScheduler } from '../../samplers/scheduler.ts';
import { samplingScheduler } from '../../pipelines/sample_model.ts';

/**
 * alphaBar_t (float32, as diffusers computes it) of a training scheduler config (any beta-table scheduler).
 * @example trainingAlphasCumprod({ num_train_timesteps: 1000, beta_schedule: 'linear' }).length // 1000
 */
export function trainingAlphasCumprod(schedulerConfig: Record<string, unknown>): Float32Array {
  const s = samplingScheduler('ddpm', schedulerConfig);
  if (!(s instanceof BetaScheduler))
    throw new Error('trainingAlphasCumprod: the scheduler config does not define a beta table');
  return s.alphasCumprod;
}

/**
 * sigma_t in float64 and the inverse map sigma -> fractional timestep: linear interpolation in log sigma
 * between neighbouring table entries (k-diffusion's DiscreteSchedule.sigma_to_t, the map
 * GaussianMixture.epsilonModel and the k-samplers use), clamped to [0, T-1].
 * @example const { sigmas, timestepOf } = sigmaTable(alphasCumprod); timestepOf(sigmas[10]) // 10
 */
export function sigmaTable(alphasCumprod: ArrayLike<number>): {
  sigmas: Float64Array;
  timestepOf: (sigma: number) => number;
} {
  const T = alphasCumprod.length;
  if (T < 2) throw new Error(`sigmaTable: alphasCumprod has ${T} entries; need at least 2`);
  const sigmas = new Float64Array(T),
    logs = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const a = alphasCumprod[i];
    if (!(a > 0 && a < 1)) throw new Error(`sigmaTable: alphasCumprod[${i}] = ${a} is not in (0, 1)`);
    sigmas[i] = Math.sqrt((1 - a) / a);
    logs[i] = Math.log(sigmas[i]);
    if (i > 0 && !(logs[i] > logs[i - 1])) throw new Error(`sigmaTable: sigmas are not increasing at t = ${i}`);
  }
  const timestepOf = (sigma: number) => {
    const l = Math.log(sigma);
    if (!(l > logs[0])) return 0;
    if (!(l < logs[T - 1])) return T - 1;
    let lo = 0,
      hi = T - 1; // binary search: logs[lo] <= l < logs[hi]
    while (hi - lo > 1) {
      const m = (lo + hi) >> 1;
      if (logs[m] <= l) lo = m;
      else hi = m;
    }
    return lo + (l - logs[lo]) / (logs[hi] - logs[lo]);
  };
  return { sigmas, timestepOf };
}
