/**
 * Shared machinery of the k-diffusion-style discrete schedulers (Euler, Euler ancestral, Heun, KDPM2,
 * LMS): they work in the variance-exploding frame x = x_vp / sqrt(abar), sigma_t = sqrt((1 - abar_t) / abar_t)
 * (Karras et al. 2022, "EDM", Table 1), keep a `sigmas` table next to `timesteps`, scale the model
 * input by 1 / sqrt(sigma^2 + 1), and track a step index.
 *
 * @example
 *   const { timesteps, sigmas } = kSigmaSchedule({ alphasCumprod, numTrainTimesteps: 1000, numInferenceSteps: 10,
 *                                                  spacing: 'linspace', sigmaSchedule: 'karras' });
 */
import { NDArray } from '../engine/ndarray.ts';
import {
  betaSigmas,
  exponentialSigmas,
  karrasSigmas,
  logSigmas,
  sigmasFromAlphasCumprod,
  sigmaToT,
} from '../schedules/sigmas.ts';
import { npArange, npInterp, npLinspace, roundHalfEven, torchLinspaceF32 } from '../schedules/numerics.ts';
import { badSpacing, type TimestepSpacing } from '../schedules/timesteps.ts';
import type { PredictionType } from '../diffusion/parameterization.ts';
import {
  checkSigmaGridFlags,
  type SIGMA_GRID_KEYS,
  StepIndexScheduler,
  type BetaTableConfig,
  type ConfigOf,
  type SchedulerConfig,
  type SetTimestepsOptions,
} from './scheduler.ts';
import { f32 } from '../engine/f32.ts';

/** How inference sigmas are laid out between sigma_max and sigma_min. */
export type SigmaScheduleKind = 'default' | 'karras' | 'exponential' | 'beta';

export interface KSigmaScheduleOptions {
  alphasCumprod: Float32Array;
  numTrainTimesteps: number;
  numInferenceSteps: number;
  spacing: string;
  stepsOffset?: number;
  sigmaSchedule?: SigmaScheduleKind;
  /** Overrides of the ends of the karras/exponential/beta schedules (diffusers' sigma_min / sigma_max keys). */
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  /** 'linear' (np.interp in t) or 'log_linear' (EulerDiscreteScheduler's interpolation_type). */
  interpolation?: 'linear' | 'log_linear';
  /** Custom timesteps instead of a spacing rule (float32). */
  customTimesteps?: ArrayLike<number>;
  /** Round timesteps recovered from karras sigmas (KDPM2DiscreteScheduler does). */
  roundKarrasTimesteps?: boolean;
  owner?: string;
}

/**
 * Timestep grid with diffusers' float32 spacing rules (Euler-family): linspace without rounding,
 * leading / trailing as integers. Descending.
 * @example floatSpacedTimesteps(1000, 4, 'linspace')  // [999, 666, 333, 0]
 */
export function floatSpacedTimesteps(
  T: number,
  n: number,
  spacing: string,
  stepsOffset = 0,
  owner = 'setTimesteps',
): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${owner}: num_inference_steps = ${n} must be a positive integer`);
  if (n > T && (spacing === 'leading' || spacing === 'trailing')) {
    // (diffusers silently repeats timesteps here; 'linspace' interpolates between training sigmas and stays valid)
    throw new Error(
      `${owner}: num_inference_steps = ${n} cannot be larger than num_train_timesteps = ${T} with timestep_spacing '${spacing}'; use fewer steps or timestep_spacing 'linspace'`,
    );
  }
  if (spacing === 'linspace')
    return npLinspace(0, T - 1, n)
      .map(f32)
      .reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    return new Float64Array(n).map((_, i) => f32((n - 1 - i) * ratio + stepsOffset));
  }
  if (spacing === 'trailing') return npArange(T, 0, -T / n).map((v) => f32(roundHalfEven(v) - 1));
  throw badSpacing(spacing, owner);
}

/**
 * diffusers' Euler-family `set_timesteps`: timesteps by spacing, sigmas by np.interp of the training
 * sigmas at those timesteps (float64), optionally re-laid out as Karras / exponential / beta sigmas with
 * timesteps recovered by `sigmaToT`. Returns float64 sigmas without the final value and float32-valued timesteps.
 */
export function kSigmaSchedule(o: KSigmaScheduleOptions): {
  timesteps: Float64Array;
  sigmas: Float64Array;
  logSigmas: Float32Array;
  trainSigmas: Float32Array;
} {
  const T = o.numTrainTimesteps,
    n = o.numInferenceSteps,
    owner = o.owner ?? 'setTimesteps';
  let timesteps =
    o.customTimesteps !== undefined
      ? Float64Array.from(o.customTimesteps, f32)
      : floatSpacedTimesteps(T, n, o.spacing, o.stepsOffset ?? 0, owner);
  const trainSigmas = sigmasFromAlphasCumprod(o.alphasCumprod);
  const ls = logSigmas(trainSigmas);
  let sigmas: Float64Array;
  if ((o.interpolation ?? 'linear') === 'linear') {
    const xp = new Float64Array(trainSigmas.length).map((_, i) => i);
    sigmas = npInterp(timesteps, xp, trainSigmas);
  } else {
    // torch.linspace(log(sigma_max), log(sigma_min), n + 1).exp() in float32 (diffusers' log_linear)
    const lin = torchLinspaceF32(ls[ls.length - 1], ls[0], n + 1);
    sigmas = Float64Array.from(lin, (v) => f32(Math.exp(v)));
  }
  const kind = o.sigmaSchedule ?? 'default';
  if (kind !== 'default') {
    const sMin = o.sigmaMin ?? sigmas[sigmas.length - 1];
    const sMax = o.sigmaMax ?? sigmas[0];
    if (kind === 'karras') sigmas = karrasSigmas(sMin, sMax, n);
    else if (kind === 'exponential') sigmas = exponentialSigmas(sMin, sMax, n);
    else sigmas = betaSigmas(sMin, sMax, n);
    timesteps = sigmas.map((s) => sigmaToT(s, ls));
    if (kind === 'karras' && o.roundKarrasTimesteps) timesteps = timesteps.map(roundHalfEven);
    timesteps = timesteps.map(f32);
  }
  return { timesteps, sigmas, logSigmas: ls, trainSigmas };
}

/** Append the final sigma and round to float32 (np.concatenate([sigmas, [last]]).astype(np.float32)). */
export function withFinalSigma(sigmas: ArrayLike<number>, last = 0): Float32Array {
  const out = new Float32Array(sigmas.length + 1);
  for (let i = 0; i < sigmas.length; i++) out[i] = sigmas[i];
  out[sigmas.length] = last;
  return out;
}

/** x / sqrt(sigma^2 + 1) in float32 (EDM c_in for the VP-trained model). */
export function scaleBySigma(x: NDArray, sigma: number): NDArray {
  const d = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  return x.map((v) => v / d);
}

/**
 * x_0 from a model output in the VE frame at noise level sigma: epsilon -> x - sigma eps; v_prediction ->
 * v * (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1) (EDM Table 1 c_out, c_skip); sample -> itself.
 * float32 in diffusers' order.
 * @example kPredOriginal(eps, x, 14.6, 'epsilon', 'EulerDiscreteScheduler')
 */
export function kPredOriginal(
  modelOutput: NDArray,
  sample: NDArray,
  sigma: number,
  predictionType: string,
  owner: string,
  allowSample = true,
): NDArray {
  const out = new NDArray(sample.shape);
  const m = modelOutput.data,
    x = sample.data,
    o = out.data;
  if (predictionType === 'epsilon') {
    for (let i = 0; i < o.length; i++) o[i] = x[i] - f32(sigma * m[i]);
  } else if (predictionType === 'v_prediction') {
    const s2p1 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    for (let i = 0; i < o.length; i++) o[i] = f32(m[i] * cOut) + f32(x[i] / s2p1);
  } else if (predictionType === 'sample' && allowSample) {
    return modelOutput;
  } else {
    const allowed = allowSample ? "'epsilon', 'v_prediction', 'sample'" : "'epsilon', 'v_prediction'";
    throw new Error(
      `${owner}.step: prediction_type = ${JSON.stringify(predictionType)} is not supported; allowed values: ${allowed}`,
    );
  }
  return out;
}

/** [a0, a1, a1, a2, a2, ...]: the first element once, the rest twice (torch.cat([a[:1], a[1:].repeat_interleave(2)])). */
export function repeatInner<T extends Float32Array | Float64Array>(a: T, keepLast = false): T {
  const out: number[] = a.length ? [a[0]] : [];
  const end = keepLast ? a.length - 1 : a.length;
  for (let i = 1; i < end; i++) out.push(a[i], a[i]);
  if (keepLast && a.length > 1) out.push(a[a.length - 1]);
  return (a instanceof Float32Array ? Float32Array.from(out) : Float64Array.from(out)) as T;
}

/**
 * d = (x - x_0) / sigma, the probability-flow ODE derivative dx/dsigma (EDM Algorithm 1 line 4), float32 in
 * diffusers' order (the difference rounded, then the quotient).
 * @example odeDerivative(x, x0, 14.6)
 */
export function odeDerivative(x: NDArray, x0: NDArray, sigma: number): NDArray {
  const out = new NDArray(x.shape),
    o = out.data,
    xs = x.data,
    p = x0.data;
  // d = (x - x_0) / sigma
  for (let i = 0; i < o.length; i++) o[i] = f32(xs[i] - p[i]) / sigma;
  return out;
}

/**
 * x + d dt, the Euler step in sigma (EDM Algorithm 1 line 5), the product rounded to float32 like diffusers.
 * @example eulerStep(x, odeDerivative(x, x0, sigma), sigmaNext - sigma)
 */
export function eulerStep(x: NDArray, d: NDArray, dt: number): NDArray {
  const out = new NDArray(x.shape),
    o = out.data,
    xs = x.data,
    ds = d.data;
  // x_next = x + d dt
  for (let i = 0; i < o.length; i++) o[i] = xs[i] + f32(ds[i] * dt);
  return out;
}

/**
 * The sigma layout chosen by use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas (at most one;
 * 'default' for classes without these keys).
 * @example sigmaScheduleFromConfig({ use_karras_sigmas: true }, 'EulerDiscreteScheduler')  // 'karras'
 */
export function sigmaScheduleFromConfig(
  config: Partial<ConfigOf<typeof SIGMA_GRID_KEYS>>,
  owner: string,
): SigmaScheduleKind {
  checkSigmaGridFlags(config, owner);
  if (config.use_karras_sigmas) return 'karras';
  if (config.use_exponential_sigmas) return 'exponential';
  if (config.use_beta_sigmas) return 'beta';
  return 'default';
}

const SCALE_WARNING = 'The `scale_model_input` function should be called before `step` to ensure correct denoising.';

/** The config keys SigmaScheduler reads (each class declares its full type; absent sigma switches are off). */
export type SigmaFamilyConfig = BetaTableConfig &
  Partial<ConfigOf<typeof SIGMA_GRID_KEYS>> & {
    readonly prediction_type: PredictionType;
    readonly timestep_spacing: TimestepSpacing;
    readonly steps_offset: number;
  };

/** Base class: sigma table, step index bookkeeping, input scaling and VE add_noise. */
export abstract class SigmaScheduler extends StepIndexScheduler {
  declare readonly config: SigmaFamilyConfig;
  /** Noise levels visited, float32, ending with the final sigma (usually 0). */
  sigmas: Float32Array = new Float32Array(0);
  /** True once scaleModelInput has been called (diffusers warns when step comes first). */
  isScaleInputCalled = false;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    sigmaScheduleFromConfig(this.config, this.className);
    this.clampZeroTerminalSnr();
  }

  /** sqrt((1 - abar) / abar) for all training timesteps (float32, ascending in t). */
  trainSigmas(): Float32Array {
    return sigmasFromAlphasCumprod(this.alphasCumprod);
  }

  /**
   * kSigmaSchedule for `n` steps with this config's spacing, steps_offset and sigma layout; `extra` adds or
   * overrides options (sigma range, interpolation, custom timesteps, ...).
   */
  protected sigmaGrid(n: number, extra: Partial<KSigmaScheduleOptions> = {}): ReturnType<typeof kSigmaSchedule> {
    const c = this.config;
    return kSigmaSchedule({
      alphasCumprod: this.alphasCumprod,
      numTrainTimesteps: c.num_train_timesteps,
      numInferenceSteps: n,
      spacing: c.timestep_spacing,
      stepsOffset: c.steps_offset,
      sigmaSchedule: sigmaScheduleFromConfig(c, this.className),
      owner: `${this.className}.setTimesteps`,
      ...extra,
    });
  }

  /**
   * `setTimesteps(n)`: n steps with the configured spacing and sigma layout, final sigma 0 (custom timesteps /
   * sigmas are not taken, as in diffusers' Euler-ancestral and LMS classes; the others override this).
   * @example s.setTimesteps(30)
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const n = this.stepCountOnly(arg, true);
    this.numInferenceSteps = n;
    const r = this.sigmaGrid(n);
    this.timesteps = r.timesteps;
    this.sigmas = withFinalSigma(r.sigmas, 0);
    this.resetStepIndex();
  }

  /** Common start of step(): the step index (set from `timestep` on the first call); error once the schedule is used up. */
  protected beginStep(timestep: number): number {
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const i = this.stepIdx!;
    if (i + 1 >= this.sigmas.length)
      throw new Error(
        `${this.className}.step: the schedule is finished (step ${i} of ${this.timesteps.length}); call setTimesteps again`,
      );
    return i;
  }

  /** Record diffusers' warning when step comes before scaleModelInput (once). */
  protected warnIfInputNotScaled(): void {
    if (!this.isScaleInputCalled && !this.warnings.includes(SCALE_WARNING)) this.warnings.push(SCALE_WARNING);
  }

  /** Standard deviation of x_T: sigma_max ('linspace'/'trailing') or sqrt(sigma_max^2 + 1) ('leading'). */
  override get initNoiseSigma(): number {
    let m = -Infinity;
    for (const s of this.sigmas) if (s > m || Number.isNaN(s)) m = s;
    if (this.config.timestep_spacing === 'linspace' || this.config.timestep_spacing === 'trailing') return m;
    return f32(Math.sqrt(f32(f32(m * m) + 1)));
  }

  /** Sigma used to scale the model input at the current step (override for KDPM2's interpolated sigmas). */
  protected inputSigma(): number {
    return this.sigmas[this.stepIdx!];
  }

  /** x / sqrt(sigma^2 + 1) (EDM c_in). @example s.scaleModelInput(x, s.timesteps[0]) */
  override scaleModelInput(sample: NDArray, timestep: number): NDArray {
    this.isScaleInputCalled = true;
    if (this.stepIdx === null) this.initStepIndex(timestep);
    return scaleBySigma(sample, this.inputSigma());
  }

  /** VE forward process x + sigma(t) noise at schedule timesteps (one per batch element or one for all). */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    const sig = this.noiseIndices(ts).map((i) => this.sigmas[i]);
    const B = originalSamples.shape[0] ?? 1;
    if (sig.length !== 1 && sig.length !== B)
      throw new Error(`${this.className}.addNoise: got ${sig.length} timesteps for a batch of ${B}`);
    const per = originalSamples.size / (sig.length === 1 ? 1 : B);
    const out = new NDArray(originalSamples.shape);
    for (let i = 0; i < out.size; i++) {
      const s = sig.length === 1 ? sig[0] : sig[Math.floor(i / per)];
      out.data[i] = originalSamples.data[i] + f32(noise.data[i] * s);
    }
    return out;
  }
}
