/**
 * Shared base of diffusers' EDM scheduler classes (EDMEulerScheduler, EDMDPMSolverMultistepScheduler): no
 * beta table, a Karras (or exponential) sigma grid between sigma_min and sigma_max, timesteps
 * c_noise = ln(sigma) / 4 (times diffuse's `noise_label_scale`, 1 by default = diffusers), and the EDM preconditioning (Karras et al. 2022, Table 1) with diffusers' float32
 * numerics: scaleModelInput multiplies by c_in, `preconditionOutputs` gives D = c_skip x + c_out F.
 *
 * @example
 *   const s = EDMEulerScheduler.fromConfig({ sigma_data: 0.5 });
 *   s.setTimesteps(18);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { karrasSigmas } from '../schedules/sigmas.ts';
import { torchLinspaceF32 } from '../schedules/numerics.ts';
import { enumKey, key, Scheduler, type ConfigOf, type ConfigSpec, type SchedulerConfig } from './scheduler.ts';
import { f32 } from '../engine/f32.ts';

/** Config keys common to both EDM classes (diffusers' names and defaults). */
export const EDM_KEYS = {
  sigma_min: key('number', 0.002, { min: 0, help: 'smallest noise level of the sampling grid' }),
  sigma_max: key('number', 80.0, { min: 0, help: 'largest noise level of the sampling grid' }),
  sigma_data: key('number', 0.5, { min: 0, help: 'standard deviation of the data (EDM preconditioning)' }),
  sigma_schedule: enumKey('karras', ['karras', 'exponential']),
  num_train_timesteps: key('int', 1000, { min: 1 }),
  rho: key('number', 7.0, { help: 'exponent of the Karras schedule' }),
  final_sigmas_type: enumKey('zero', ['zero', 'sigma_min']),
  /** diffuse extension (not a diffusers key): timesteps = noise_label_scale * ln(sigma) / 4; 1 = diffusers. */
  noise_label_scale: key('number', 1, {
    min: 0,
    help: "diffuse's scale of the noise label c_noise = ln(sigma) / 4 (1 = diffusers)",
  }),
} satisfies ConfigSpec;
/** The config keys both EDM classes read (each class declares its full type). */
export type EdmConfig = ConfigOf<typeof EDM_KEYS> & {
  readonly prediction_type: string;
  readonly timestep_spacing?: string;
  readonly steps_offset?: number;
};

const SCALE_WARNING = 'The `scale_model_input` function should be called before `step` to ensure correct denoising.';

/**
 * Karras sigmas at float64 ramp positions (diffusers' `_compute_karras_sigmas` on a float64 ramp, EDMEuler).
 * @example edmKarrasF64(np.linspace(0, 1, 10), 0.002, 80, 7)
 */
export function edmSigmaGridF64(
  n: number,
  sigmaMin: number,
  sigmaMax: number,
  rho: number,
  kind: string,
): Float32Array {
  if (kind === 'karras') return Float32Array.from(karrasSigmas(sigmaMin, sigmaMax, n, rho));
  // torch.linspace(log(sigma_min), log(sigma_max), n) in float32 (default dtype), exp, flip
  const lin = torchLinspaceF32(Math.log(sigmaMin), Math.log(sigmaMax), n);
  return Float32Array.from(lin, (v) => Math.exp(v)).reverse();
}

/**
 * The Karras grid on a float32 ramp (EDMDPMSolverMultistepScheduler: `torch.linspace(0, 1, n)` is float32,
 * so the whole formula runs in float32).
 */
export function edmSigmaGridF32(
  n: number,
  sigmaMin: number,
  sigmaMax: number,
  rho: number,
  kind: string,
): Float32Array {
  if (kind !== 'karras') return edmSigmaGridF64(n, sigmaMin, sigmaMax, rho, kind);
  const ramp = torchLinspaceF32(0, 1, n);
  const minInv = sigmaMin ** (1 / rho),
    maxInv = sigmaMax ** (1 / rho);
  const d = f32(minInv - maxInv),
    m = f32(maxInv),
    r = f32(rho);
  return Float32Array.from(ramp, (u) => f32(m + f32(u * d)) ** r);
}

/** Base class; see the file comment. */
export abstract class EdmScheduler extends Scheduler {
  declare readonly config: EdmConfig;
  /** Noise levels visited, float32, ending with the final sigma (0 or sigma_min). */
  sigmas: Float32Array = new Float32Array(0);
  isScaleInputCalled = false;
  protected stepIdx: number | null = null;
  protected beginIdx: number | null = null;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const c = this.config;
    if (!(c.sigma_min > 0 && c.sigma_max > c.sigma_min)) {
      throw new Error(
        `${this.className} config: sigma_min = ${c.sigma_min}, sigma_max = ${c.sigma_max}; need 0 < sigma_min < sigma_max`,
      );
    }
    if (!(c.sigma_data > 0)) throw new Error(`${this.className} config: sigma_data = ${c.sigma_data} must be > 0`);
  }

  /** Current step index (null before the first scaleModelInput / step). */
  get stepIndex(): number | null {
    return this.stepIdx;
  }
  get beginIndex(): number | null {
    return this.beginIdx;
  }

  /** Start part-way (img2img). @example s.setBeginIndex(3) */
  setBeginIndex(beginIndex = 0): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0)
      throw new Error(`${this.className}.setBeginIndex: beginIndex = ${beginIndex} must be a non-negative integer`);
    this.beginIdx = beginIndex;
  }

  /** sqrt(sigma_max^2 + 1), as diffusers (float64). */
  override get initNoiseSigma(): number {
    const m = this.config.sigma_max;
    return Math.sqrt(m * m + 1);
  }

  /** c_noise = ln(sigma) / 4 in float32 (diffusers' precondition_noise), times noise_label_scale when that is not 1. */
  preconditionNoise(sigma: number): number {
    const c = f32(0.25 * f32(Math.log(sigma)));
    const k = this.config.noise_label_scale;
    return k === 1 ? c : f32(k * c);
  }

  /** c_in = 1 / sqrt(sigma^2 + sigma_data^2), float32. */
  protected cIn(sigma: number): number {
    const sd = this.config.sigma_data;
    return f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + f32(sd * sd)))));
  }

  /** x * c_in(sigma) (diffusers' precondition_inputs). */
  preconditionInputs(sample: NDArray, sigma: number): NDArray {
    const c = this.cIn(sigma);
    return sample.map((v) => f32(v * c));
  }

  /**
   * D = c_skip x + c_out F (diffusers' precondition_outputs; c_out < 0 for 'v_prediction'), float32.
   * @example const x0 = s.preconditionOutputs(x, F, s.sigmas[0]);
   */
  preconditionOutputs(sample: NDArray, modelOutput: NDArray, sigma: number): NDArray {
    const sd = this.config.sigma_data;
    const sd2 = f32(sd * sd);
    const den = f32(f32(sigma * sigma) + sd2);
    const cSkip = f32(sd2 / den);
    const pt = this.config.prediction_type;
    let cOut: number;
    if (pt === 'epsilon') cOut = f32(f32(sigma * sd) / f32(Math.sqrt(den)));
    else if (pt === 'v_prediction') cOut = f32(f32(-sigma * sd) / f32(Math.sqrt(den)));
    else
      throw new Error(
        `${this.className}: prediction_type = ${JSON.stringify(pt)} is not supported; allowed values: 'epsilon', 'v_prediction'`,
      );
    return sample.map((v, i) => f32(f32(cSkip * v) + f32(cOut * modelOutput.data[i])));
  }

  /** Grid sigmas for n steps (float32, without the final value). */
  protected abstract gridSigmas(n: number): Float32Array;

  /** The final sigma appended to the grid. */
  protected finalSigma(grid: Float32Array): number {
    return this.config.final_sigmas_type === 'sigma_min' ? grid[grid.length - 1] : 0;
  }

  /** Install a grid: sigmas (+ final) and timesteps c_noise(sigma). */
  protected installGrid(grid: Float32Array): void {
    this.timesteps = Float64Array.from(grid, (s) => this.preconditionNoise(s));
    const sig = new Float32Array(grid.length + 1);
    sig.set(grid);
    sig[grid.length] = this.finalSigma(grid);
    this.sigmas = sig;
    this.stepIdx = null;
    this.beginIdx = null;
  }

  /** Position of timestep t (the second match if repeated); `notFound` decides a missing t. */
  indexForTimestep(t: number, schedule: ArrayLike<number> = this.timesteps): number {
    const hits: number[] = [];
    for (let i = 0; i < schedule.length; i++) if (schedule[i] === f32(t) || schedule[i] === t) hits.push(i);
    if (hits.length === 0) return this.timestepNotFound(t);
    return hits.length > 1 ? hits[1] : hits[0];
  }

  protected timestepNotFound(t: number): number {
    throw new Error(`${this.className}: timestep ${t} is not in the current schedule; pass one of scheduler.timesteps`);
  }

  protected initStepIndex(t: number): void {
    this.stepIdx = this.beginIdx ?? this.indexForTimestep(t);
  }

  /** x * c_in(sigma) at the current step. @example s.scaleModelInput(x, s.timesteps[0]) */
  override scaleModelInput(sample: NDArray, timestep: number): NDArray {
    if (this.stepIdx === null) this.initStepIndex(timestep);
    this.isScaleInputCalled = true;
    return this.preconditionInputs(sample, this.sigmas[this.stepIdx!]);
  }

  protected warnIfInputNotScaled(): void {
    if (!this.isScaleInputCalled && !this.warnings.includes(SCALE_WARNING)) this.warnings.push(SCALE_WARNING);
  }

  /** The sigma of the current step (after scaleModelInput or step was called). */
  currentSigma(): number {
    if (this.stepIdx === null)
      throw new Error(`${this.className}: no current step; call scaleModelInput or step first`);
    return this.sigmas[this.stepIdx];
  }

  /** VE forward process x0 + sigma(t) noise at schedule timesteps (one per batch row or one for all). */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    let idx: number[];
    if (this.beginIdx === null) idx = ts.map((t) => this.indexForTimestep(t));
    else idx = ts.map(() => this.stepIdx ?? this.beginIdx!);
    const sig = idx.map((i) => this.sigmas[i]);
    const B = originalSamples.shape[0] ?? 1;
    if (sig.length !== 1 && sig.length !== B)
      throw new Error(`${this.className}.addNoise: got ${sig.length} timesteps for a batch of ${B}`);
    const per = originalSamples.size / (sig.length === 1 ? 1 : B);
    return originalSamples.map((v, i) =>
      f32(v + f32(noise.data[i] * (sig.length === 1 ? sig[0] : sig[Math.floor(i / per)]))),
    );
  }
}
