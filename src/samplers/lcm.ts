/**
 * LCMScheduler (diffusers): the multistep sampler of Latent Consistency Models (Luo et al. 2023, "Latent
 * Consistency Models", Algorithm 3; consistency models: Song et al. 2023). The model is a VP network
 * (eps, v or x_0 on a beta table) distilled so that one call, through the consistency boundary condition,
 * lands on x_0; sampling alternates that estimate with re-noising to the next timestep of a short grid taken
 * from the distillation grid. Config keys, grid and float32 numerics follow diffusers' scheduling_lcm.py:
 *
 *   distillation grid: t = k j - 1, j = 1..floor(original_inference_steps * strength), k = floor(T / original_inference_steps)
 *   inference timesteps: n of them, evenly spaced by index over that grid, descending (or custom ones)
 *   step at t:  x_0 = the model's x_0 (epsilon / sample / v_prediction; clipped or thresholded),
 *               c_skip = sigma_data^2 / ((10 t)^2 + sigma_data^2), c_out = 10 t / sqrt((10 t)^2 + sigma_data^2)
 *               (sigma_data = 0.5, 10 = timestep_scaling), denoised = c_out x_0 + c_skip x_t,
 *               x_next = sqrt(abar_next) denoised + sqrt(1 - abar_next) z   (z ~ N(0, I); the last step returns denoised)
 *
 * `timestep_spacing` and `steps_offset` are accepted and stored, as in diffusers, but do not change the grid.
 *
 * @example
 *   const s = LCMScheduler.fromConfig({ beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 });
 *   s.setTimesteps(4);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await eps(s.scaleModelInput(x, t), t), t, x, { generator }).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { f32 } from '../engine/f32.ts';
import { addNoise, getVelocity } from '../diffusion/forward.ts';
import { TIMESTEP_SPACINGS } from '../schedules/timesteps.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  StepIndexScheduler,
  timestepsArg,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { drawNoise, stepTimestep } from './step_utils.ts';
import { clipOrThreshold, scaledSum, vpPredOriginal } from './vp_math.ts';

/** Result of an LCM step (diffusers' LCMSchedulerOutput). */
export interface LcmStepOutput extends StepOutput {
  /** The consistency estimate of x_0, c_out x_0 + c_skip x_t (the pipeline's output after the last step); also predOriginalSample. */
  denoised: NDArray;
}

/** setTimesteps' options of LCMScheduler (diffusers' set_timesteps arguments). */
export interface LcmSetTimestepsOptions extends SetTimestepsOptions {
  /** Length of the distillation grid the inference timesteps are taken from (default: the config's original_inference_steps). */
  originalInferenceSteps?: number;
  /** Share of the grid used, in (0, 1] (img2img: 1 = from pure noise). Default 1. */
  strength?: number;
}

/** diffusers' LCMScheduler (see the file comment). @example LCMScheduler.fromConfig({}).setTimesteps(4) */
export class LCMScheduler extends StepIndexScheduler {
  static override readonly className = 'LCMScheduler';
  static override readonly configSpec = {
    ...betaTableKeys({
      beta_start: key('number', 0.00085, { min: 0 }),
      beta_end: key('number', 0.012, { min: 0 }),
      beta_schedule: enumKey('scaled_linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
    }),
    original_inference_steps: key('int', 50, {
      min: 1,
      help: 'length of the distillation grid the inference timesteps are taken from',
    }),
    clip_sample: key('bool', false),
    clip_sample_range: COMMON_KEYS.clip_sample_range,
    set_alpha_to_one: key('bool', true, {
      help: 'use alphaBar = 1 (else alphaBar_0) as the "previous" alphaBar after the last step',
    }),
    steps_offset: COMMON_KEYS.steps_offset,
    prediction_type: enumKey('epsilon', ['epsilon', 'sample', 'v_prediction']),
    thresholding: COMMON_KEYS.thresholding,
    dynamic_thresholding_ratio: COMMON_KEYS.dynamic_thresholding_ratio,
    sample_max_value: COMMON_KEYS.sample_max_value,
    timestep_spacing: enumKey('leading', TIMESTEP_SPACINGS),
    timestep_scaling: key('number', 10.0, {
      min: 0,
      help: 'factor of t in the boundary-condition scalings c_skip, c_out',
    }),
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
  } satisfies ConfigSpec;
  declare readonly config: LcmConfig;

  /** alphaBar used after the last step: 1 (set_alpha_to_one) or alphaBar_0 (diffusers' final_alpha_cumprod). */
  readonly finalAlphaCumprod: number;
  /** True when the timesteps came from `setTimesteps({ timesteps })` (diffusers' custom_timesteps). */
  customTimesteps = false;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1.0 : this.alphasCumprod[0];
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
  }

  /**
   * `setTimesteps(n)`: n timesteps evenly spaced by index over the distillation grid k j - 1 (descending), or
   * `setTimesteps({ timesteps })`: custom descending integer timesteps; both take `originalInferenceSteps`
   * and `strength` (diffusers' set_timesteps). Timesteps off the distillation grid, a first timestep other than
   * T - 1, or more timesteps than the grid has, add a warning to `warnings` (diffusers logs them).
   * @example s.setTimesteps({ numInferenceSteps: 4, strength: 0.5 })
   */
  setTimesteps(arg: number | LcmSetTimestepsOptions): void {
    const o = timestepsArg(arg) as LcmSetTimestepsOptions;
    const owner = `${this.className}.setTimesteps`;
    const T = this.config.num_train_timesteps;
    const n = o.numInferenceSteps;
    const custom = o.timesteps;
    const strength = o.strength ?? 1.0;
    if (o.sigmas !== undefined)
      throw new Error(
        `${owner}: custom sigmas are not supported (as in diffusers); pass numInferenceSteps or timesteps`,
      );
    if (n === undefined && custom === undefined)
      throw new Error(`${owner}: pass exactly one of numInferenceSteps or timesteps (got neither)`);
    if (n !== undefined && custom !== undefined)
      throw new Error(`${owner}: pass only one of numInferenceSteps or timesteps (got both)`);
    if (typeof strength !== 'number' || !(strength > 0 && strength <= 1))
      throw new Error(`${owner}: strength = ${strength} must be in (0, 1] (1 = start from pure noise)`);
    const originalSteps = o.originalInferenceSteps ?? this.config.original_inference_steps;
    if (!Number.isInteger(originalSteps) || originalSteps < 1)
      throw new Error(`${owner}: originalInferenceSteps = ${originalSteps} must be a positive integer`);
    if (originalSteps > T)
      throw new Error(
        `${owner}: original_inference_steps = ${originalSteps} cannot be larger than num_train_timesteps = ${T}`,
      );
    // the distillation grid: t = k j - 1, j = 1..floor(original_steps * strength)
    const k = Math.floor(T / originalSteps);
    const m = Math.trunc(originalSteps * strength);
    const origin = Array.from({ length: m }, (_, j) => (j + 1) * k - 1);
    let ts: number[];
    if (custom !== undefined) {
      const c = Array.from(custom);
      if (c.length === 0) throw new Error(`${owner}: timesteps = [] must hold at least one timestep`);
      const onGrid = new Set(origin);
      const off: number[] = [];
      c.forEach((t, i) => {
        if (!Number.isInteger(t) || t < 0)
          throw new Error(`${owner}: timesteps[${i}] = ${t} must be a non-negative integer training timestep`);
        if (i > 0 && t >= c[i - 1])
          throw new Error(`${owner}: timesteps must be in descending order (timesteps[${i}] = ${t} >= ${c[i - 1]})`);
        if (i > 0 && !onGrid.has(t)) off.push(t);
      });
      if (c[0] >= T) throw new Error(`${owner}: timesteps[0] = ${c[0]} must be below num_train_timesteps = ${T}`);
      if (strength === 1 && c[0] !== T - 1)
        this.warnings.push(
          `${owner}: the first custom timestep is ${c[0]}, not num_train_timesteps - 1 = ${T - 1}; results may be unexpected`,
        );
      if (off.length > 0)
        this.warnings.push(
          `${owner}: the custom timesteps ${JSON.stringify(off)} are not on the distillation grid (k j - 1, k = ${k}); results may be unexpected`,
        );
      if (c.length > originalSteps)
        this.warnings.push(
          `${owner}: ${c.length} custom timesteps exceed original_inference_steps = ${originalSteps}; results may be unexpected`,
        );
      this.numInferenceSteps = c.length;
      this.customTimesteps = true;
      const init = Math.min(Math.trunc(c.length * strength), c.length);
      ts = c.slice(Math.max(c.length - init, 0));
    } else {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new Error(`${owner}: numInferenceSteps = ${n} must be a positive integer`);
      if (n > T) throw new Error(`${owner}: numInferenceSteps = ${n} cannot be larger than num_train_timesteps = ${T}`);
      if (Math.floor(origin.length / n) < 1)
        throw new Error(
          `${owner}: original_inference_steps x strength = ${originalSteps} x ${strength} gives ${origin.length} grid timesteps, fewer than numInferenceSteps = ${n}; lower numInferenceSteps or raise strength / originalInferenceSteps`,
        );
      if (n > originalSteps)
        throw new Error(
          `${owner}: numInferenceSteps = ${n} cannot be larger than original_inference_steps = ${originalSteps}`,
        );
      this.numInferenceSteps = n;
      this.customTimesteps = false;
      const desc = origin.slice().reverse();
      const L = desc.length;
      // np.floor(np.linspace(0, L, n, endpoint=False))
      ts = Array.from({ length: n }, (_, i) => desc[Math.floor(i * (L / n))]);
    }
    this.timesteps = Float64Array.from(ts);
    this.resetStepIndex();
  }

  /**
   * The boundary-condition scalings at timestep t (diffusers' get_scalings_for_boundary_condition_discrete, in
   * float32 as when t is a tensor): c_skip = 0.25 / ((s t)^2 + 0.25), c_out = s t / sqrt((s t)^2 + 0.25), s = timestep_scaling.
   * @example s.getScalingsForBoundaryConditionDiscrete(999) // { cSkip: ~2.5e-9, cOut: 1 }
   */
  getScalingsForBoundaryConditionDiscrete(timestep: number): { cSkip: number; cOut: number } {
    const sd2 = 0.25; // sigma_data = 0.5
    const st = f32(timestep * f32(this.config.timestep_scaling));
    const den = f32(f32(st * st) + sd2);
    return { cSkip: f32(sd2 / den), cOut: f32(st / f32(Math.sqrt(den))) };
  }

  /**
   * One LCM step (see the file comment). Needs `generator` (or `varianceNoise`) on every step but the last.
   * @example const { prevSample, denoised } = s.step(eps, t, x, { generator: new TorchGenerator(0) });
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): LcmStepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before step()`);
    const T = this.config.num_train_timesteps;
    const t = stepTimestep(timestep, T, this.className);
    if (modelOutput.size !== sample.size)
      throw new Error(
        `${this.className}.step: model output shape [${modelOutput.shape.join(', ')}] differs from the sample's [${sample.shape.join(', ')}]`,
      );
    if (this.stepIdx === null) this.initStepIndex(t);
    const i = this.stepIdx!;
    // 1. the next timestep (the same one after the last step, as diffusers)
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : t;
    // 2. alphas
    const abarT = this.alphasCumprod[t];
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    // 3. boundary-condition scalings
    const { cSkip, cOut } = this.getScalingsForBoundaryConditionDiscrete(t);
    // 4. the model's x_0, clipped or thresholded
    const x0 = clipOrThreshold(
      vpPredOriginal(modelOutput, sample, abarT, this.config.prediction_type, this.className),
      this.config,
    );
    // 5. denoised = c_out x_0 + c_skip x_t
    const denoised = scaledSum(cOut, x0, cSkip, sample);
    // 6. re-noise to the next timestep, except after the last step
    let prev = denoised;
    if (i !== this.numInferenceSteps - 1) {
      const z = drawNoise(modelOutput.shape, opts, this.className, 'every LCM step but the last re-noises');
      prev = scaledSum(f32(Math.sqrt(abarPrev)), denoised, f32(Math.sqrt(f32(1 - abarPrev))), z);
    }
    this.stepIdx = i + 1;
    return { prevSample: prev, denoised, predOriginalSample: denoised };
  }

  /**
   * The timestep after t in the current schedule, -1 after the last (diffusers' previous_timestep); t - 1 before setTimesteps.
   * @example s.setTimesteps(4); s.previousTimestep(999)  // 759
   */
  previousTimestep(timestep: number): number {
    if (!this.customTimesteps && this.numInferenceSteps === null) return timestep - 1;
    const i = Array.prototype.indexOf.call(this.timesteps, timestep) as number;
    if (i < 0)
      throw new Error(
        `${this.className}: timestep ${timestep} is not in the current schedule; pass one of scheduler.timesteps`,
      );
    return i === this.timesteps.length - 1 ? -1 : this.timesteps[i + 1];
  }

  /** Forward process q(x_t | x_0) (DDPM eq. 4). @example s.addNoise(x0, noise, [999, 499]) */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return addNoise(originalSamples, noise, this.alphasCumprod, timesteps);
  }

  /** v target (Salimans & Ho 2022). @example s.getVelocity(x0, noise, 500) */
  getVelocity(sample: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return getVelocity(sample, noise, this.alphasCumprod, timesteps);
  }
}

registerScheduler(LCMScheduler);

/** The validated config of LCMScheduler (diffusers' keys, typed from its spec). */
export type LcmConfig = ConfigOf<typeof LCMScheduler.configSpec>;
