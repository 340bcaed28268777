/**
 * DDIMScheduler: Denoising Diffusion Implicit Models (Song, Meng & Ermon 2021, arXiv:2010.02502),
 * with diffusers' config keys and numerics.
 *
 * One step t -> t' = t - T / n (DDIM eq. 12):
 *   x_{t'} = sqrt(abar_t') x_0 + sqrt(1 - abar_t' - sigma_t^2) eps + sigma_t z,
 *   sigma_t = eta * sqrt((1 - abar_t') / (1 - abar_t)) * sqrt(1 - abar_t / abar_t')   (DDIM eq. 16),
 * eta = 0: deterministic DDIM; eta = 1: the DDPM posterior variance.
 *
 * @example
 *   const s = DDIMScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false });
 *   s.setTimesteps(50);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x, { eta: 0 }).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { addNoise, getVelocity } from '../diffusion/forward.ts';
import { spacedTimesteps } from '../schedules/timesteps.ts';
import {
  BetaScheduler,
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  type ConfigOf,
  type ConfigSpec,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { drawNoise, stepTimestep } from './step_utils.ts';
import { clipOrThreshold, scaledSum, unscaleDiff, vpPredEpsilon, vpPredOriginal } from './vp_math.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' DDIMScheduler (see the file comment). @example DDIMScheduler.fromConfig({ clip_sample: false }).step(eps, t, x, { eta: 0 }) */
export class DDIMScheduler extends BetaScheduler {
  static override readonly className = 'DDIMScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    clip_sample: COMMON_KEYS.clip_sample,
    set_alpha_to_one: key('bool', true, {
      help: 'use alphaBar = 1 (else alphaBar_0) as the "previous" alphaBar of the last step',
    }),
    steps_offset: COMMON_KEYS.steps_offset,
    prediction_type: COMMON_KEYS.prediction_type,
    thresholding: COMMON_KEYS.thresholding,
    dynamic_thresholding_ratio: COMMON_KEYS.dynamic_thresholding_ratio,
    clip_sample_range: COMMON_KEYS.clip_sample_range,
    sample_max_value: COMMON_KEYS.sample_max_value,
    timestep_spacing: enumKey('leading', ['leading', 'trailing', 'linspace']),
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DDIMScheduler.configSpec>;

  /** alphaBar used after the last step: 1 (set_alpha_to_one) or alphaBar_0. */
  readonly finalAlphaCumprod: number;

  constructor(config: Record<string, unknown> = {}) {
    super(config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1.0 : this.alphasCumprod[0];
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
  }

  /** `setTimesteps(n)` with the configured spacing (integer timesteps, descending). @example s.setTimesteps(50) */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const numInferenceSteps = this.stepCountOnly(arg);
    const T = this.config.num_train_timesteps;
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = spacedTimesteps({
      numTrainTimesteps: T,
      numInferenceSteps,
      spacing: this.config.timestep_spacing,
      stepsOffset: this.config.steps_offset,
      integer: true,
      owner: `${this.className}.setTimesteps`,
    });
  }

  /** DDIM eq. (16) without eta: (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev). */
  getVariance(timestep: number, prevTimestep: number): number {
    const abarT = this.alphasCumprod[timestep];
    const abarPrev = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep] : this.finalAlphaCumprod;
    const betaProdT = f32(1 - abarT),
      betaProdTPrev = f32(1 - abarPrev);
    // sigma_t^2 / eta^2 = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
    return f32(f32(betaProdTPrev / betaProdT) * f32(1 - f32(abarT / abarPrev)));
  }

  /**
   * One DDIM step (eq. 12). Options: `eta` (>= 0, default 0), `useClippedModelOutput`, `generator` /
   * `varianceNoise` (needed when eta > 0).
   * @example s.step(eps, t, x, { eta: 1, generator })
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(
        `${this.className}: number of inference steps is not set; call setTimesteps(numInferenceSteps) before step()`,
      );
    const eta = opts.eta ?? 0.0;
    if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0)
      throw new Error(
        `${this.className}.step: eta = ${eta} must be a finite number >= 0 (0 = deterministic DDIM, 1 = DDPM-like noise)`,
      );
    const T = this.config.num_train_timesteps;
    const t = stepTimestep(timestep, T, this.className);
    // 1. previous step (diffusers uses t - T // n whatever the spacing)
    const prevT = t - Math.floor(T / this.numInferenceSteps);
    // 2. alphas, betas
    const abarT = this.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const betaProdT = f32(1 - abarT); // 1 - abar_t
    // 3. x_0 and eps (DDIM eq. 12, "predicted x_0")
    let x0 = vpPredOriginal(modelOutput, sample, abarT, this.config.prediction_type, this.className);
    let eps = vpPredEpsilon(modelOutput, sample, abarT, this.config.prediction_type, x0);
    // 4. clip / threshold x_0
    x0 = clipOrThreshold(x0, this.config);
    // 5. sigma_t, DDIM eq. (16)
    const variance = this.getVariance(t, prevT);
    // sigma_t = eta sqrt(variance)
    const stdDevT = f32(f32(eta) * f32(Math.sqrt(variance)));
    if (opts.useClippedModelOutput) {
      const sa = f32(Math.sqrt(abarT)),
        sb = f32(Math.sqrt(betaProdT)); // sqrt(abar_t), sqrt(1 - abar_t)
      // eps = (x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t), from the clipped x_0
      eps = unscaleDiff(sample, sa, x0, sb);
    }
    // 6. "direction pointing to x_t", 7. x_{t-1} without noise (DDIM eq. 12)
    // sqrt(1 - abar_prev - sigma_t^2), sqrt(abar_prev)
    const dirCoeff = f32(Math.sqrt(f32(f32(1 - abarPrev) - f32(stdDevT * stdDevT))));
    const x0Coeff = f32(Math.sqrt(abarPrev));
    // x_{t-1} = sqrt(abar_prev) x_0 + sqrt(1 - abar_prev - sigma_t^2) eps   (DDIM eq. 12, noise added below)
    let prev = scaledSum(x0Coeff, x0, dirCoeff, eps);
    if (eta > 0) {
      const noise = drawNoise(modelOutput.shape, opts, this.className);
      // x_{t-1} += sigma_t z
      prev = prev.add(noise.map((z) => stdDevT * z));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** Forward process q(x_t | x_0) (DDPM eq. 4). @example s.addNoise(x0, noise, 500) */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return addNoise(originalSamples, noise, this.alphasCumprod, timesteps);
  }

  /** v target (Salimans & Ho 2022). @example s.getVelocity(x0, noise, 500) */
  getVelocity(sample: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return getVelocity(sample, noise, this.alphasCumprod, timesteps);
  }
}

registerScheduler(DDIMScheduler);
