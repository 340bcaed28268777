/**
 * DDPMScheduler: ancestral sampling of Denoising Diffusion Probabilistic Models (Ho et al. 2020,
 * arXiv:2006.11239), with diffusers' config keys and numerics.
 *
 * One step from t to its predecessor t' (t - 1, or the previous inference timestep):
 *   x_0 from the model output (DDPM eq. 15, or v / sample parameterisations), optionally clipped or
 *   dynamically thresholded (Imagen), then the posterior mean (DDPM eq. 7)
 *     mu = sqrt(abar_t') beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_t') / (1 - abar_t) x_t,
 *   with alpha_t = abar_t / abar_t', beta_t = 1 - alpha_t, plus sigma_t z for t > 0 (variance_type).
 *
 * @example
 *   const s = DDPMScheduler.fromConfig({ num_train_timesteps: 1000, beta_schedule: 'linear' });
 *   s.setTimesteps(50);
 *   let x = generator.normal([1, 3, 32, 32]);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x, { generator }).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import { addNoise, getVelocity } from '../diffusion/forward.ts';
import { badVarianceType, ddpmVariance, VARIANCE_TYPES } from '../diffusion/variance.ts';
import { checkNumInferenceSteps, customTimesteps, spacedTimesteps } from '../schedules/timesteps.ts';
import {
  BetaScheduler,
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  registerScheduler,
  timestepsArg,
  type ConfigOf,
  type ConfigSpec,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { drawNoise, splitChannels, stepTimestep } from './step_utils.ts';
import { clipOrThreshold, scaledSum, vpPredOriginal } from './vp_math.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' DDPMScheduler (see the file comment). @example DDPMScheduler.fromConfig({ variance_type: 'fixed_small' }).setTimesteps(50) */
export class DDPMScheduler extends BetaScheduler {
  static override readonly className = 'DDPMScheduler';
  static override readonly configSpec = {
    ...betaTableKeys({
      beta_schedule: enumKey('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid', 'laplace']),
    }),
    variance_type: enumKey('fixed_small', VARIANCE_TYPES),
    clip_sample: COMMON_KEYS.clip_sample,
    prediction_type: COMMON_KEYS.prediction_type,
    thresholding: COMMON_KEYS.thresholding,
    dynamic_thresholding_ratio: COMMON_KEYS.dynamic_thresholding_ratio,
    clip_sample_range: COMMON_KEYS.clip_sample_range,
    sample_max_value: COMMON_KEYS.sample_max_value,
    timestep_spacing: enumKey('leading', ['linspace', 'leading', 'trailing']),
    steps_offset: COMMON_KEYS.steps_offset,
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DDPMScheduler.configSpec>;

  /** True when setTimesteps got explicit timesteps. */
  customTimesteps = false;

  constructor(config: Record<string, unknown> = {}) {
    super(config);
    // before setTimesteps: every training timestep, descending (training / full-chain use)
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
  }

  /**
   * Inference timesteps: `setTimesteps(n)` with the configured `timestep_spacing`, or
   * `setTimesteps({ timesteps: [...] })` for custom descending integer timesteps.
   * @example s.setTimesteps(50); s.setTimesteps({ timesteps: [999, 500, 100, 0] });
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const { numInferenceSteps, timesteps, sigmas } = timestepsArg(arg);
    const T = this.config.num_train_timesteps;
    if (sigmas !== undefined)
      throw new Error(
        `${this.className}.setTimesteps: custom sigmas are not supported by this scheduler; pass numInferenceSteps or timesteps`,
      );
    if (numInferenceSteps !== undefined && timesteps !== undefined)
      throw new Error(`${this.className}.setTimesteps: pass only one of numInferenceSteps or timesteps`);
    if (timesteps !== undefined) {
      this.timesteps = customTimesteps(timesteps, T, `${this.className}.setTimesteps`);
      this.customTimesteps = true;
      this.numInferenceSteps = null;
      return;
    }
    checkNumInferenceSteps(numInferenceSteps, T, `${this.className}.setTimesteps`);
    this.numInferenceSteps = numInferenceSteps;
    this.customTimesteps = false;
    this.timesteps = spacedTimesteps({
      numTrainTimesteps: T,
      numInferenceSteps,
      spacing: this.config.timestep_spacing,
      stepsOffset: this.config.steps_offset,
      integer: true,
      owner: `${this.className}.setTimesteps`,
    });
  }

  /** The timestep that follows t in the current schedule (-1 after the last). */
  previousTimestep(t: number): number {
    if (this.customTimesteps || this.numInferenceSteps) {
      const idx = this.timesteps.indexOf(t);
      if (idx < 0)
        throw new Error(
          `${this.className}: timestep ${t} is not in the current schedule [${Array.from(this.timesteps).join(', ')}]`,
        );
      return idx === this.timesteps.length - 1 ? -1 : this.timesteps[idx + 1];
    }
    return t - 1;
  }

  /** The variance-type quantity of diffusers' `_get_variance` at timestep t. */
  getVariance(t: number, predictedVariance?: NDArray | null): number | NDArray {
    const prevT = this.previousTimestep(t);
    const abarT = this.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1.0;
    return ddpmVariance(this.config.variance_type, abarT, abarPrev, predictedVariance);
  }

  /**
   * One ancestral step t -> previous timestep (DDPM Algorithm 2, line 4). Reads `generator` (or
   * `varianceNoise`) for the noise of t > 0. A model output with twice the sample's channels carries
   * the predicted variance for 'learned' / 'learned_range'.
   * @example const { prevSample, predOriginalSample } = s.step(eps, 999, x, { generator });
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    const t = stepTimestep(timestep, this.alphasCumprod.length, this.className);
    const prevT = this.previousTimestep(t);
    let predictedVariance: NDArray | null = null;
    const vt = this.config.variance_type;
    if (!(VARIANCE_TYPES as readonly string[]).includes(vt)) throw badVarianceType(vt, this.className);
    if (
      sample.ndim >= 2 &&
      modelOutput.ndim >= 2 &&
      modelOutput.shape[1] === sample.shape[1] * 2 &&
      (vt === 'learned' || vt === 'learned_range')
    ) {
      [modelOutput, predictedVariance] = splitChannels(modelOutput, sample.shape[1]);
    }

    // 1. alphas, betas
    const abarT = this.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1.0;
    // 1 - abar_t, 1 - abar_t', alpha_t = abar_t / abar_t', beta_t = 1 - alpha_t
    const betaProdT = f32(1 - abarT);
    const betaProdTPrev = f32(1 - abarPrev);
    const currentAlphaT = f32(abarT / abarPrev);
    const currentBetaT = f32(1 - currentAlphaT);

    // 2. predicted x_0 (DDPM eq. 15), 3. clip / threshold
    let x0 = vpPredOriginal(modelOutput, sample, abarT, this.config.prediction_type, this.className);
    x0 = clipOrThreshold(x0, this.config);

    // 4./5. posterior mean, DDPM eq. (7)
    // c_0 = sqrt(abar_t') beta_t / (1 - abar_t), c_t = sqrt(alpha_t) (1 - abar_t') / (1 - abar_t)
    const x0Coeff = f32(f32(f32(Math.sqrt(abarPrev)) * currentBetaT) / betaProdT);
    const xtCoeff = f32(f32(f32(Math.sqrt(currentAlphaT)) * betaProdTPrev) / betaProdT);
    // mu = sqrt(abar_t') beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_t') / (1 - abar_t) x_t
    let prev = scaledSum(x0Coeff, x0, xtCoeff, sample);

    // 6. add noise
    if (t > 0 && vt === 'fixed_large_log') {
      // diffusers takes sqrt(log(beta_t)) here, a NaN for every step; we refuse instead of returning NaNs
      throw new Error(
        `${this.className}.step: variance_type 'fixed_large_log' is a log-variance (for likelihood computations) and cannot drive sampling (diffusers returns NaN here); use 'fixed_large' or 'fixed_small'`,
      );
    }
    if (t > 0) {
      const noise = drawNoise(modelOutput.shape, opts, this.className);
      const v = this.getVariance(t, predictedVariance);
      let scaled: NDArray;
      // x_{t'} = mu + sigma_t z: sigma_t = v for fixed_small_log (already a std), exp(log_var / 2) for learned_range,
      // sqrt(var) otherwise
      if (vt === 'fixed_small_log') {
        scaled = scaleNoise(noise, v, (s) => s);
      } else if (vt === 'learned_range') {
        scaled = scaleNoise(noise, v, (lv) => f32(Math.exp(f32(0.5 * lv))));
      } else {
        scaled = scaleNoise(noise, v, (s) => f32(Math.sqrt(s)));
      }
      prev = prev.add(scaled);
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** Forward process q(x_t | x_0) at integer timesteps (DDPM eq. 4). @example s.addNoise(x0, noise, [10, 500]) */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return addNoise(originalSamples, noise, this.alphasCumprod, timesteps);
  }

  /** The v-prediction target at integer timesteps (Salimans & Ho 2022). @example s.getVelocity(x0, noise, [10]) */
  getVelocity(sample: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return getVelocity(sample, noise, this.alphasCumprod, timesteps);
  }
}

/** noise * g(v): v a scalar or an array of the noise's shape. */
function scaleNoise(noise: NDArray, v: number | NDArray, g: (v: number) => number): NDArray {
  if (typeof v === 'number') {
    const k = g(v);
    return noise.map((z) => k * z);
  }
  if (v.size !== noise.size) throw new Error(`shape mismatch: [${v.shape.join(', ')}] vs [${noise.shape.join(', ')}]`);
  const out = new NDArray(noise.shape),
    o = out.data,
    vd = v.data,
    z = noise.data;
  // sigma z with sigma = g(variance) per element (learned variances)
  for (let i = 0; i < o.length; i++) o[i] = g(vd[i]) * z[i];
  return out;
}

registerScheduler(DDPMScheduler);
