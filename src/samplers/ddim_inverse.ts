/**
 * DDIMInverseScheduler: DDIM run backwards (x_0 -> x_T), the deterministic encoder of DDIM
 * (Song et al. 2021, sec. 4.3 / eq. 13: the probability-flow ODE discretised the other way), used for
 * inversion (e.g. Null-text inversion, Mokady et al. 2023). diffusers' config keys and numerics.
 *
 * One step t_prev -> t with t_prev = t - T / n (clamped to T - 1):
 *   x_t = sqrt(abar_t) x_0(x_{t_prev}) + sqrt(1 - abar_t) eps(x_{t_prev}).
 *
 * @example
 *   const inv = DDIMInverseScheduler.fromConfig({ clip_sample: false });
 *   inv.setTimesteps(50);   // ascending: 0, 20, 40, ...
 *   for (const t of inv.timesteps) x = inv.step(model(x, t), t, x).prevSample;  // x -> noise
 */
import type { NDArray } from '../engine/ndarray.ts';
import { addNoise } from '../diffusion/forward.ts';
import { npArange, roundHalfEven } from '../schedules/numerics.ts';
import {
  BetaScheduler,
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { clipSample } from '../diffusion/thresholding.ts';
import { stepTimestep } from './step_utils.ts';
import { scaledSum, vpPredEpsilon, vpPredOriginal } from './vp_math.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' DDIMInverseScheduler (see the file comment). @example DDIMInverseScheduler.fromConfig({}).setTimesteps(50) */
export class DDIMInverseScheduler extends BetaScheduler {
  static override readonly className = 'DDIMInverseScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    clip_sample: COMMON_KEYS.clip_sample,
    set_alpha_to_one: key('bool', true, { help: 'use alphaBar = 1 (else alphaBar_0) before the first step' }),
    steps_offset: COMMON_KEYS.steps_offset,
    prediction_type: COMMON_KEYS.prediction_type,
    clip_sample_range: COMMON_KEYS.clip_sample_range,
    timestep_spacing: enumKey('leading', ['leading', 'trailing']),
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DDIMInverseScheduler.configSpec>;

  /** alphaBar before the first step: 1 (set_alpha_to_one) or alphaBar_0. */
  readonly initialAlphaCumprod: number;

  constructor(config: SchedulerConfig = {}) {
    // diffusers' deprecated alias: set_alpha_to_zero -> set_alpha_to_one (same value, as diffusers does)
    const deprecatedAlias = config.set_alpha_to_zero != null;
    if (deprecatedAlias) {
      const { set_alpha_to_zero, ...rest } = config;
      config = { ...rest, set_alpha_to_one: set_alpha_to_zero };
    }
    super(config);
    if (deprecatedAlias)
      this.warnings.push('The `set_alpha_to_zero` argument is deprecated. Please use `set_alpha_to_one` instead.');
    this.initialAlphaCumprod = this.config.set_alpha_to_one ? 1.0 : this.alphasCumprod[0];
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => i);
  }

  /** Ascending timesteps: 'leading' (i * T//n + steps_offset) or 'trailing' (round(arange(T, 0, -T/n))[::-1] - 1). */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const numInferenceSteps = this.stepCountOnly(arg);
    const T = this.config.num_train_timesteps;
    this.numInferenceSteps = numInferenceSteps;
    const n = numInferenceSteps;
    const spacing = this.config.timestep_spacing;
    if (spacing === 'leading') {
      const ratio = Math.floor(T / n);
      this.timesteps = new Float64Array(n).map((_, i) => i * ratio + this.config.steps_offset);
    } else if (spacing === 'trailing') {
      const a = npArange(T, 0, -T / n).reverse();
      this.timesteps = a.map((v) => roundHalfEven(v) - 1);
    } else {
      throw new Error(
        `${this.className}.setTimesteps: timestep_spacing = ${JSON.stringify(spacing)} is not supported; allowed values: 'leading', 'trailing'`,
      );
    }
  }

  /**
   * One inversion step from `timestep` (the "previous", less noisy one) to timestep + T/n.
   * @example inv.step(eps, 0, x0).prevSample   // x at the next, noisier timestep
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(
        `${this.className}: number of inference steps is not set; call setTimesteps(numInferenceSteps) before step()`,
      );
    const T = this.config.num_train_timesteps;
    const prevTimestep = stepTimestep(timestep, T, this.className);
    // 1. the timestep the model output is interpreted at (one step "before" in inverted order)
    const t = Math.min(prevTimestep - Math.floor(T / this.numInferenceSteps), T - 1);
    // 2. alphas
    const abarT = t >= 0 ? this.alphasCumprod[t] : this.initialAlphaCumprod;
    const abarPrev = this.alphasCumprod[prevTimestep];
    // 3. x_0 and eps
    let x0 = vpPredOriginal(modelOutput, sample, abarT, this.config.prediction_type, this.className);
    const eps = vpPredEpsilon(modelOutput, sample, abarT, this.config.prediction_type, x0);
    // 4. clip
    if (this.config.clip_sample) x0 = clipSample(x0, this.config.clip_sample_range);
    // 5./6. DDIM eq. (12) with sigma = 0, towards the noisier timestep
    // sqrt(1 - abar_t'), sqrt(abar_t')
    const dirCoeff = f32(Math.sqrt(f32(1 - abarPrev)));
    const x0Coeff = f32(Math.sqrt(abarPrev));
    // x_{t'} = sqrt(abar_t') x_0 + sqrt(1 - abar_t') eps   (DDIM eq. 12, sigma = 0)
    const prev = scaledSum(x0Coeff, x0, dirCoeff, eps);
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** Forward process q(x_t | x_0) (DDPM eq. 4). @example inv.addNoise(x0, noise, 500) */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return addNoise(originalSamples, noise, this.alphasCumprod, timesteps);
  }
}

registerScheduler(DDIMInverseScheduler);
