/**
 * CMStochasticIterativeScheduler (diffusers): the multistep sampler of consistency models (Song, Dhariwal, Chen &
 * Sutskever 2023, "Consistency Models", Algorithm 1). A consistency model f(x, sigma) maps any point of a
 * probability-flow ODE trajectory to its start; sampling alternates one call of f with re-noising to the next,
 * smaller noise level. Config keys, grid and float32 numerics follow diffusers' scheduling_consistency_models.py:
 *
 *   grid: sigma_i = (sigma_max^(1/rho) + r_i (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, r_i = t_i / (N - 1)
 *         for the training-grid indices t_i = i * floor(N / n) (or custom ones), N = num_train_timesteps;
 *         timesteps = 1000 * ln(sigma) / 4 (the noise label the network sees), sigmas end with sigma_min
 *   model input: x / sqrt(sigma^2 + sigma_data^2) (scaleModelInput)
 *   model output F: the raw network; the scheduler applies the boundary-condition scalings (Song et al. 2023, App. C)
 *         c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2),
 *         c_out = (sigma - sigma_min) sigma_data / sqrt(sigma^2 + sigma_data^2)
 *   step: D = c_skip x + c_out F (clipped to [-1, 1] when clip_denoised), then
 *         x_next = D + s_noise z sqrt(sigma_next^2 - sigma_min^2), z ~ N(0, I) (no noise for a 1-step schedule).
 *
 * @example
 *   const s = CMStochasticIterativeScheduler.fromConfig({ sigma_data: 0.5, clip_denoised: false });
 *   s.setTimesteps({ timesteps: [22, 0] });                    // or s.setTimesteps(2)
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await F(s.scaleModelInput(x, t), t), t, x, { generator }).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { f32 } from '../engine/f32.ts';
import {
  key,
  registerScheduler,
  Scheduler,
  timestepsArg,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { drawNoise } from './step_utils.ts';

const SCALE_WARNING = 'The `scale_model_input` function should be called before `step` to ensure correct denoising.';

/** Result of a consistency-model step: the next sample and the denoised estimate D (the consistency function's value). */
export interface CmStepOutput extends StepOutput {
  /** D = c_skip x + c_out F (clipped when clip_denoised): the estimate of x_0 at this step (also predOriginalSample). */
  denoised: NDArray;
}

/**
 * Karras sigmas at ramp positions r in [0, 1] (r = 0: sigma_max, r = 1: sigma_min), float64 as diffusers' numpy code.
 * @example karrasFromRamp([0, 0.5, 1], 0.002, 80, 7)
 */
export function karrasFromRamp(ramp: ArrayLike<number>, sigmaMin: number, sigmaMax: number, rho: number): Float64Array {
  const minInv = sigmaMin ** (1 / rho),
    maxInv = sigmaMax ** (1 / rho);
  // sigma = (max^(1/rho) + r (min^(1/rho) - max^(1/rho)))^rho
  return Float64Array.from(ramp, (r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** diffusers' sigma_to_t of the consistency models: t = 1000 * 0.25 * ln(sigma + 1e-44). @example cmSigmaToT(80) // 1095.5... */
export function cmSigmaToT(sigma: number): number {
  return 1000 * 0.25 * Math.log(sigma + 1e-44);
}

/** diffusers' CMStochasticIterativeScheduler (see the file comment). @example CMStochasticIterativeScheduler.fromConfig({}).setTimesteps(2) */
export class CMStochasticIterativeScheduler extends Scheduler {
  static override readonly className = 'CMStochasticIterativeScheduler';
  static override readonly configSpec = {
    num_train_timesteps: key('int', 40, {
      min: 2,
      max: 1_000_000,
      help: 'N, the number of points of the discretised noise grid the model was trained on',
    }),
    sigma_min: key('number', 0.002, {
      min: 0,
      help: 'smallest noise level (the boundary sigma of the consistency function)',
    }),
    sigma_max: key('number', 80.0, { min: 0, help: 'largest noise level' }),
    sigma_data: key('number', 0.5, { min: 0, help: 'standard deviation of the data (the preconditioning)' }),
    s_noise: key('number', 1.0, { min: 0, help: 'scale of the noise added between steps' }),
    rho: key('number', 7.0, { help: 'exponent of the Karras schedule' }),
    clip_denoised: key('bool', true, { help: 'clamp the denoised estimate to [-1, 1]' }),
  } satisfies ConfigSpec;
  declare readonly config: CmStochasticIterativeConfig;

  /** Noise levels: after setTimesteps the n grid sigmas then sigma_min (float32 values, as diffusers). */
  sigmas: Float64Array;
  /** True when the timesteps came from `setTimesteps({ timesteps })` (diffusers' custom_timesteps). */
  customTimesteps = false;
  /** diffusers' is_scale_input_called. */
  isScaleInputCalled = false;
  private stepIdx: number | null = null;
  private beginIdx: number | null = null;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const c = this.config;
    if (!(c.sigma_min > 0 && c.sigma_max > c.sigma_min))
      throw new Error(
        `${this.className} config: sigma_min = ${c.sigma_min}, sigma_max = ${c.sigma_max}; need 0 < sigma_min < sigma_max`,
      );
    if (!(c.sigma_data > 0)) throw new Error(`${this.className} config: sigma_data = ${c.sigma_data} must be > 0`);
    if (!(c.rho > 0)) throw new Error(`${this.className} config: rho = ${c.rho} must be > 0`);
    // diffusers' initial state: the full training grid (float64), no trailing sigma_min
    const T = c.num_train_timesteps;
    const ramp = Float64Array.from({ length: T }, (_, i) => (i === T - 1 ? 1 : i * (1 / (T - 1))));
    this.sigmas = karrasFromRamp(ramp, c.sigma_min, c.sigma_max, c.rho);
    this.timesteps = this.sigmas.map(cmSigmaToT);
  }

  /** sigma_max: x_T = sigma_max z. */
  override get initNoiseSigma(): number {
    return this.config.sigma_max;
  }

  /** Index of the current timestep in `timesteps` (null before the first scaleModelInput / step). */
  get stepIndex(): number | null {
    return this.stepIdx;
  }

  /** First step index set by setBeginIndex (img2img-style starts), else null. */
  get beginIndex(): number | null {
    return this.beginIdx;
  }

  /** Start the next run at timestep index `beginIndex` (diffusers' set_begin_index). @example s.setBeginIndex(1) */
  setBeginIndex(beginIndex = 0): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0)
      throw new Error(`${this.className}.setBeginIndex: beginIndex = ${beginIndex} must be a non-negative integer`);
    this.beginIdx = beginIndex;
  }

  /**
   * `setTimesteps(n)`: the training-grid indices i * floor(N / n), i = n-1..0, mapped to Karras sigmas; or
   * `setTimesteps({ timesteps })`: custom descending integer indices in [0, N) (e.g. [22, 0], the
   * two-step schedule of the ImageNet-64 consistency models). `timesteps` then holds the noise labels 250 ln(sigma).
   * @example s.setTimesteps({ timesteps: [22, 0] })
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const { numInferenceSteps: n, timesteps: custom, sigmas } = timestepsArg(arg);
    const owner = `${this.className}.setTimesteps`;
    const T = this.config.num_train_timesteps;
    if (sigmas !== undefined)
      throw new Error(
        `${owner}: custom sigmas are not supported (as in diffusers); pass numInferenceSteps or timesteps`,
      );
    if (n === undefined && custom === undefined)
      throw new Error(`${owner}: pass exactly one of numInferenceSteps or timesteps (got neither)`);
    if (n !== undefined && custom !== undefined)
      throw new Error(`${owner}: pass only one of numInferenceSteps or timesteps (got both)`);
    let idx: number[];
    if (custom !== undefined) {
      idx = Array.from(custom);
      if (idx.length === 0) throw new Error(`${owner}: timesteps = [] must hold at least one training-grid index`);
      idx.forEach((t, i) => {
        if (!Number.isInteger(t) || t < 0)
          throw new Error(`${owner}: timesteps[${i}] = ${t} must be a non-negative integer index of the training grid`);
        if (i > 0 && t >= idx[i - 1])
          throw new Error(`${owner}: timesteps must be in descending order (timesteps[${i}] = ${t} >= ${idx[i - 1]})`);
      });
      if (idx[0] >= T) throw new Error(`${owner}: timesteps[0] = ${idx[0]} must be below num_train_timesteps = ${T}`);
      this.customTimesteps = true;
      this.numInferenceSteps = idx.length;
    } else {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new Error(`${owner}: numInferenceSteps = ${n} must be a positive integer`);
      if (n > T)
        throw new Error(
          `${owner}: numInferenceSteps = ${n} cannot be larger than num_train_timesteps = ${T} (the model's noise grid)`,
        );
      this.numInferenceSteps = n;
      const ratio = Math.floor(T / n);
      idx = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio);
      this.customTimesteps = false;
    }
    const ramp = idx
      .slice()
      .reverse()
      .map((t) => t / (T - 1));
    const grid = karrasFromRamp(ramp, this.config.sigma_min, this.config.sigma_max, this.config.rho);
    this.timesteps = grid.map(cmSigmaToT); // from the float64 sigmas, as diffusers
    const sig = new Float64Array(grid.length + 1);
    grid.forEach((s, i) => {
      sig[i] = f32(s);
    });
    sig[grid.length] = f32(this.config.sigma_min);
    this.sigmas = sig;
    this.stepIdx = null;
    this.beginIdx = null;
  }

  /** Position of timestep t in the schedule (the second match if repeated, diffusers' index_for_timestep). */
  indexForTimestep(t: number, schedule: ArrayLike<number> = this.timesteps): number {
    const hits: number[] = [];
    for (let i = 0; i < schedule.length; i++) if (schedule[i] === t) hits.push(i);
    if (hits.length === 0) {
      const why = Number.isInteger(t)
        ? ' (an integer index such as one from enumerate(timesteps) is not a timestep of this scheduler)'
        : '';
      throw new Error(
        `${this.className}: timestep ${t} is not in the current schedule${why}; pass one of scheduler.timesteps`,
      );
    }
    return hits.length > 1 ? hits[1] : hits[0];
  }

  private initStepIndex(t: number): void {
    this.stepIdx = this.beginIdx ?? this.indexForTimestep(t);
  }

  /** The noise level of the current step (after scaleModelInput or step). */
  currentSigma(): number {
    if (this.stepIdx === null)
      throw new Error(`${this.className}: no current step; call scaleModelInput or step first`);
    return this.sigmas[this.stepIdx];
  }

  /** x / sqrt(sigma^2 + sigma_data^2) at the current step (float32). @example s.scaleModelInput(x, s.timesteps[0]) */
  override scaleModelInput(sample: NDArray, timestep: number): NDArray {
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const sigma = f32(this.sigmas[this.stepIdx!]);
    const sd2 = f32(this.config.sigma_data ** 2);
    const den = f32(Math.sqrt(f32(f32(sigma * sigma) + sd2)));
    this.isScaleInputCalled = true;
    return sample.map((v) => f32(v / den));
  }

  /**
   * diffusers' sigma_to_t: the noise labels 1000 * 0.25 * ln(sigma + 1e-44) (float64).
   * @example s.sigmaToT([80, 0.002])  // [1095.5..., -1553.6...]
   */
  sigmaToT(sigmas: number | ArrayLike<number>): Float64Array {
    return Float64Array.from(typeof sigmas === 'number' ? [sigmas] : sigmas, cmSigmaToT);
  }

  /**
   * The EDM scalings without the boundary condition (diffusers' get_scalings, used by consistency training):
   * c_skip = sigma_data^2 / (sigma^2 + sigma_data^2), c_out = sigma sigma_data / sqrt(sigma^2 + sigma_data^2), float32.
   * @example s.getScalings(1)
   */
  getScalings(sigma: number): { cSkip: number; cOut: number } {
    const s = f32(sigma);
    const sd = this.config.sigma_data;
    const sd2 = f32(sd ** 2);
    const den = f32(f32(s * s) + sd2);
    return { cSkip: f32(sd2 / den), cOut: f32(f32(s * f32(sd)) / f32(Math.sqrt(den))) };
  }

  /**
   * The boundary-condition scalings (c_skip, c_out) at sigma, float32 (diffusers' get_scalings_for_boundary_condition):
   * c_skip(sigma_min) = 1, c_out(sigma_min) = 0, so f(x, sigma_min) = x.
   * @example s.getScalingsForBoundaryCondition(80)
   */
  getScalingsForBoundaryCondition(sigma: number): { cSkip: number; cOut: number } {
    const s = f32(sigma);
    const sd = this.config.sigma_data;
    const sd2 = f32(sd ** 2);
    const d = f32(s - f32(this.config.sigma_min));
    const cSkip = f32(sd2 / f32(f32(d * d) + sd2));
    const cOut = f32(f32(d * f32(sd)) / f32(Math.sqrt(f32(f32(s * s) + sd2))));
    return { cSkip, cOut };
  }

  /**
   * One consistency step (Algorithm 1): D = c_skip x + c_out F, then D + s_noise z sqrt(sigma_next^2 - sigma_min^2).
   * Needs `generator` (or `varianceNoise`) unless the schedule has a single step.
   * @example s.step(F, t, x, { generator: new TorchGenerator(0) })
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): CmStepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(
        `${this.className}: call setTimesteps(numInferenceSteps) or setTimesteps({ timesteps }) before step()`,
      );
    if (modelOutput.size !== sample.size)
      throw new Error(
        `${this.className}.step: model output shape [${modelOutput.shape.join(', ')}] differs from the sample's [${sample.shape.join(', ')}]`,
      );
    if (!this.isScaleInputCalled && !this.warnings.includes(SCALE_WARNING)) this.warnings.push(SCALE_WARNING);
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const i = this.stepIdx!;
    if (i >= this.timesteps.length)
      throw new Error(
        `${this.className}.step: the schedule is finished (step ${i} of ${this.timesteps.length}); call setTimesteps again`,
      );
    const c = this.config;
    const T = c.num_train_timesteps;
    const sigma = this.sigmas[i];
    const sigmaNext = i + 1 < T ? this.sigmas[i + 1] : this.sigmas[this.sigmas.length - 1];
    const { cSkip, cOut } = this.getScalingsForBoundaryCondition(sigma);
    // 1. D = c_out F + c_skip x, clamped to [-1, 1] when clip_denoised
    let denoised = modelOutput.map((f, j) => f32(f32(cOut * f) + f32(cSkip * sample.data[j])));
    if (c.clip_denoised) denoised = denoised.map((v) => Math.min(Math.max(v, -1), 1));
    // 2. z ~ N(0, s_noise^2 I) (none for a one-step schedule)
    const sigmaMin = f32(c.sigma_min),
      sigmaMax = f32(c.sigma_max);
    const sigmaHat = Math.min(Math.max(f32(sigmaNext), sigmaMin), sigmaMax);
    let prev = denoised;
    if (this.timesteps.length > 1) {
      const z = drawNoise(modelOutput.shape, opts, this.className, 'a multistep consistency schedule re-noises');
      const sn = f32(c.s_noise);
      // 3. x_next = D + z sqrt(sigma_hat^2 - sigma_min^2)
      const k = f32(Math.sqrt(f32(f32(sigmaHat * sigmaHat) - f32(c.sigma_min ** 2))));
      prev = denoised.map((v, j) => f32(v + f32(f32(z.data[j] * sn) * k)));
    }
    this.stepIdx = i + 1;
    return { prevSample: prev, denoised, predOriginalSample: denoised };
  }

  /** Forward process x0 + sigma(t) noise at schedule timesteps (one per batch row, or one for all), as diffusers' Euler add_noise. */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    let idx: number[];
    if (this.beginIdx === null) idx = ts.map((t) => this.indexForTimestep(t));
    else idx = ts.map(() => this.stepIdx ?? this.beginIdx!);
    const sig = idx.map((j) => f32(this.sigmas[j]));
    const B = originalSamples.shape[0] ?? 1;
    if (sig.length !== 1 && sig.length !== B)
      throw new Error(`${this.className}.addNoise: got ${sig.length} timesteps for a batch of ${B}`);
    if (noise.size !== originalSamples.size)
      throw new Error(
        `${this.className}.addNoise: noise shape [${noise.shape.join(', ')}] differs from [${originalSamples.shape.join(', ')}]`,
      );
    const per = originalSamples.size / (sig.length === 1 ? 1 : B);
    return originalSamples.map((v, j) =>
      f32(v + f32(noise.data[j] * (sig.length === 1 ? sig[0] : sig[Math.floor(j / per)]))),
    );
  }
}

registerScheduler(CMStochasticIterativeScheduler);

/** The validated config of CMStochasticIterativeScheduler (diffusers' keys, typed from its spec). */
export type CmStochasticIterativeConfig = ConfigOf<typeof CMStochasticIterativeScheduler.configSpec>;
