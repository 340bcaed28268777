/**
 * HeunDiscreteScheduler: Heun's second-order method on the probability-flow ODE (Karras et al. 2022,
 * "EDM", Algorithm 1), with diffusers' config keys and numerics. Every inference step but the last takes
 * two model calls, so `timesteps` lists each inner timestep twice:
 *   d = (x - D(x; sigma)) / sigma,  x' = x + (sigma_next - sigma) d                       (Euler predictor)
 *   d' = (x' - D(x'; sigma_next)) / sigma_next,  x_next = x + (sigma_next - sigma) (d + d') / 2   (trapezoid corrector)
 * The final step (sigma_next = 0) is a plain Euler step.
 *
 * @example
 *   const s = HeunDiscreteScheduler.fromConfig({ beta_schedule: 'scaled_linear' });
 *   s.setTimesteps(20);    // 39 model calls
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import { clipSample } from '../diffusion/thresholding.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  SIGMA_GRID_KEYS,
  timestepsArg,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import {
  eulerStep,
  kPredOriginal,
  odeDerivative,
  repeatInner,
  SigmaScheduler,
  sigmaScheduleFromConfig,
  withFinalSigma,
} from './sigma_scheduler.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' HeunDiscreteScheduler (see the file comment). @example HeunDiscreteScheduler.fromConfig({}).setTimesteps(20) */
export class HeunDiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'HeunDiscreteScheduler';
  static override readonly configSpec = {
    ...betaTableKeys({
      beta_start: key('number', 0.00085, { min: 0 }),
      beta_end: key('number', 0.012, { min: 0 }),
      beta_schedule: enumKey('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp']),
    }),
    prediction_type: COMMON_KEYS.prediction_type,
    ...SIGMA_GRID_KEYS,
    clip_sample: key('bool', false),
    clip_sample_range: COMMON_KEYS.clip_sample_range,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof HeunDiscreteScheduler.configSpec>;

  override readonly order = 2;
  private prevDerivative: NDArray | null = null;
  private dt: number | null = null;
  private firstSample: NDArray | null = null;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.setTimesteps(this.config.num_train_timesteps);
  }

  /** True when the next step is the Euler (first) half of a Heun step. */
  get stateInFirstOrder(): boolean {
    return this.dt === null;
  }

  /** `setTimesteps(n)` or `setTimesteps({ timesteps })` (custom, descending). @example s.setTimesteps(20) */
  override setTimesteps(arg: number | SetTimestepsOptions): void {
    const { numInferenceSteps, timesteps, sigmas } = timestepsArg(arg);
    const owner = `${this.className}.setTimesteps`;
    if (sigmas !== undefined)
      throw new Error(
        `${owner}: custom sigmas are not supported by this scheduler (as in diffusers); pass numInferenceSteps or timesteps`,
      );
    if (numInferenceSteps === undefined && timesteps === undefined)
      throw new Error(`${owner}: pass exactly one of numInferenceSteps or timesteps`);
    if (numInferenceSteps !== undefined && timesteps !== undefined)
      throw new Error(`${owner}: pass only one of numInferenceSteps or timesteps`);
    const kind = sigmaScheduleFromConfig(this.config, this.className);
    if (timesteps !== undefined && kind !== 'default')
      throw new Error(`${owner}: custom timesteps cannot be combined with use_${kind}_sigmas = true`);
    const n = numInferenceSteps ?? timesteps!.length;
    this.numInferenceSteps = n;
    const r = this.sigmaGrid(n, { customTimesteps: timesteps });
    // sigmas: [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0]; timesteps: [t0, t1, t1, ..., t_{n-1}, t_{n-1}]
    this.sigmas = repeatInner(withFinalSigma(r.sigmas, 0), true);
    this.timesteps = repeatInner(r.timesteps);
    this.prevDerivative = null;
    this.dt = null;
    this.firstSample = null;
    this.resetStepIndex();
  }

  /** One half of a Heun step (predictor or corrector, by internal state). @example s.step(eps, t, x) */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(timestep);
    const first = this.stateInFirstOrder;
    const sigma = first ? this.sigmas[i] : this.sigmas[i - 1];
    const sigmaNext = first ? this.sigmas[i + 1] : this.sigmas[i];
    const sigmaHat = sigma; // gamma = 0: diffusers supports no churn here
    // 1. x_0 at the noise level the model saw
    let x0 = kPredOriginal(
      modelOutput,
      sample,
      first ? sigmaHat : sigmaNext,
      this.config.prediction_type,
      this.className,
    );
    if (this.config.clip_sample) x0 = clipSample(x0, this.config.clip_sample_range);
    let derivative: NDArray, dt: number, base: NDArray;
    if (first) {
      // 2. d = (x - x_0) / sigma (EDM Alg. 1 line 4), 3. dt = sigma_next - sigma
      derivative = odeDerivative(sample, x0, sigmaHat);
      dt = f32(sigmaNext - sigmaHat); // dt = sigma_next - sigma
      this.prevDerivative = derivative;
      this.dt = dt;
      this.firstSample = sample;
      base = sample;
    } else {
      // 2. d' at sigma_next, averaged with d (EDM Alg. 1 line 8: trapezoidal rule)
      const d2 = odeDerivative(sample, x0, sigmaNext).data,
        d1 = this.prevDerivative!.data;
      derivative = new NDArray(sample.shape);
      // d = (d_1 + d_2) / 2
      for (let j = 0; j < d2.length; j++) derivative.data[j] = f32(d1[j] + d2[j]) / 2;
      dt = this.dt!;
      base = this.firstSample!;
      this.prevDerivative = null;
      this.dt = null;
      this.firstSample = null;
    }
    // x_next = x + d dt
    const prev = eulerStep(base, derivative, dt);
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(HeunDiscreteScheduler);
