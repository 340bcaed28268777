/**
 * LMSDiscreteScheduler: linear multistep (Adams-Bashforth type) integration of the probability-flow ODE
 * in sigma (k-diffusion's `sample_lms`; Karras et al. 2022), with diffusers' config keys and numerics.
 *
 *   d_i = (x_i - D(x_i; sigma_i)) / sigma_i
 *   x_{i+1} = x_i + sum_{j<order} c_j d_{i-j},   c_j = integral_{sigma_i}^{sigma_{i+1}} prod_{k != j} (tau - sigma_{i-k}) / (sigma_{i-j} - sigma_{i-k}) dtau
 * (the Lagrange basis polynomials through the last `order` sigmas). Like diffusers (which calls
 * scipy.integrate.quad), the coefficients are integrated numerically with the 21-point Gauss-Kronrod
 * rule of QUADPACK, exact for these low-degree polynomials, evaluating the integrand in float32 as
 * diffusers does (its sigmas are float32 tensors).
 *
 * @example
 *   const s = LMSDiscreteScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
 *   s.setTimesteps(50);
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  registerScheduler,
  SIGMA_GRID_KEYS,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { kPredOriginal, odeDerivative, SigmaScheduler } from './sigma_scheduler.ts';
import { f32 } from '../engine/f32.ts';
import { lmsCoefficient } from './lms_coefficient.ts';

/** diffusers' LMSDiscreteScheduler (see the file comment). @example LMSDiscreteScheduler.fromConfig({}).step(eps, t, x, { order: 4 }) */
export class LMSDiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'LMSDiscreteScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    ...SIGMA_GRID_KEYS,
    prediction_type: COMMON_KEYS.prediction_type,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof LMSDiscreteScheduler.configSpec>;

  /** Derivatives of the last `order` steps, oldest first. */
  derivatives: NDArray[] = [];

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.setTimesteps(this.config.num_train_timesteps);
  }

  /** `setTimesteps(n)` (see SigmaScheduler.setTimesteps); clears the derivative history. @example s.setTimesteps(50) */
  override setTimesteps(arg: number | SetTimestepsOptions): void {
    super.setTimesteps(arg);
    this.derivatives = [];
  }

  /**
   * LMS coefficient c_j = integral over [sigma_t, sigma_{t+1}] of the Lagrange basis polynomial of node
   * sigma_{t-j} among sigma_t, ..., sigma_{t-order+1} (integrand in float32, like diffusers).
   * @example s.lmsCoefficient(4, 10, 0)
   */
  lmsCoefficient(order: number, t: number, currentOrder: number): number {
    return lmsCoefficient(order, this.sigmas, t, currentOrder, f32);
  }

  /** One LMS step of order min(step + 1, order) (order defaults to 4). @example s.step(eps, t, x) */
  step(
    modelOutput: NDArray,
    timestep: number,
    sample: NDArray,
    opts: StepOptions & { order?: number } = {},
  ): StepOutput {
    this.warnIfInputNotScaled();
    const i = this.beginStep(timestep);
    let order = opts.order ?? 4;
    if (!Number.isInteger(order) || order < 1)
      throw new Error(`${this.className}.step: order = ${order} must be a positive integer`);
    const sigma = this.sigmas[i];
    // 1. x_0, 2. derivative (x - x_0) / sigma
    const x0 = kPredOriginal(modelOutput, sample, sigma, this.config.prediction_type, this.className);
    const derivative = odeDerivative(sample, x0, sigma);
    this.derivatives.push(derivative);
    if (this.derivatives.length > order) this.derivatives.shift();
    // 3. coefficients (lower order while the history warms up)
    order = Math.min(i + 1, order);
    const coeffs: number[] = [];
    for (let c = 0; c < order; c++) coeffs.push(this.lmsCoefficient(order, i, c));
    // 4. x_{t+1} = x_t + sum_j c_j d_{t-j}
    const n = sample.size;
    const acc = new Float32Array(n);
    const hist = this.derivatives;
    // zip(coeffs, reversed(derivatives)): when starting mid-schedule (img2img) the history is shorter
    // than the order and diffusers uses only the coefficients that have a derivative
    for (let j = 0; j < Math.min(coeffs.length, hist.length); j++) {
      const d = hist[hist.length - 1 - j].data;
      const c32 = f32(coeffs[j]);
      // acc = sum_j c_j d_{t-j}
      for (let k = 0; k < n; k++) acc[k] = acc[k] + f32(c32 * d[k]);
    }
    const prev = new NDArray(sample.shape),
      xs = sample.data;
    // x_{t+1} = x_t + acc
    for (let k = 0; k < n; k++) prev.data[k] = xs[k] + acc[k];
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(LMSDiscreteScheduler);
