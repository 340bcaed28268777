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
import type { NDArray } from '../engine/ndarray.ts';
import {
  betaTableKeys, COMMON_KEYS, registerScheduler, SIGMA_GRID_KEYS,
  type ConfigSpec, type SchedulerConfig, type SetTimestepsOptions, type StepOptions, type StepOutput,
} from './scheduler.ts';
import { kPredOriginal, SigmaScheduler } from './sigma_scheduler.ts';
import { f32 } from '../engine/f32.ts';

// QUADPACK dqk21: Gauss-Kronrod nodes (xgk, in [0, 1], symmetric) and weights (wgk); odd indices are the
// 10-point Gauss nodes. Exact for polynomials of degree <= 31.
const XGK = [
  0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
  0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
  0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
  0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
  0.294392862701460198131126603103866, 0.148874338981631210884826001129720,
  0.0,
];
const WGK = [
  0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
  0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
  0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
  0.123491976262065851077208936972256, 0.134709217311473325928054001771707,
  0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
  0.149445554002916905664936468389821,
];

/**
 * integral_a^b f(x) dx by the 21-point Gauss-Kronrod rule (QUADPACK dqk21's Kronrod sum, in its order).
 * @example gaussKronrod21((x) => x * x, 0, 1)  // 1/3
 */
export function gaussKronrod21(f: (x: number) => number, a: number, b: number): number {
  const centr = 0.5 * (a + b);
  const hlgth = 0.5 * (b - a);
  let resk = WGK[10] * f(centr);
  for (let j = 0; j < 5; j++) {
    const jtw = 2 * j + 1;
    const absc = hlgth * XGK[jtw];
    resk += WGK[jtw] * (f(centr - absc) + f(centr + absc));
  }
  for (let j = 0; j < 5; j++) {
    const jtwm1 = 2 * j;
    const absc = hlgth * XGK[jtwm1];
    resk += WGK[jtwm1] * (f(centr - absc) + f(centr + absc));
  }
  return resk * hlgth;
}

/**
 * LMS coefficient: the integral over [sigmas[i], sigmas[i+1]] of the Lagrange basis polynomial of node
 * sigmas[i-j] among sigmas[i], ..., sigmas[i-order+1] (k-diffusion's linear_multistep_coeff, diffusers'
 * get_lms_coefficient), by the 21-point Gauss-Kronrod rule (exact: the degree is order - 1 < 31).
 * `round` is applied after every operation of the integrand: Math.fround evaluates it in float32 as
 * diffusers does (its sigmas are float32 tensors); the default keeps float64 (k-diffusion).
 * @example lmsCoefficient(2, [10, 5, 1, 0], 1, 0)
 */
export function lmsCoefficient(order: number, sigmas: ArrayLike<number>, i: number, j: number, round: (v: number) => number = (v) => v): number {
  const basis = (tau: number): number => {
    let prod = 1.0;
    const t = round(tau);
    for (let k = 0; k < order; k++) {
      if (j === k) continue;
      prod = round(prod * round(round(t - sigmas[i - k]) / round(sigmas[i - j] - sigmas[i - k])));
    }
    return prod;
  };
  return gaussKronrod21(basis, sigmas[i], sigmas[i + 1]);
}

/** diffusers' LMSDiscreteScheduler (see the file comment). @example LMSDiscreteScheduler.fromConfig({}).step(eps, t, x, { order: 4 }) */
export class LMSDiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'LMSDiscreteScheduler';
  static override readonly configSpec: ConfigSpec = {
    ...betaTableKeys(),
    ...SIGMA_GRID_KEYS,
    prediction_type: COMMON_KEYS.prediction_type,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
  };

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
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions & { order?: number } = {}): StepOutput {
    this.warnIfInputNotScaled();
    const i = this.beginStep(timestep);
    let order = opts.order ?? 4;
    if (!Number.isInteger(order) || order < 1) throw new Error(`${this.className}.step: order = ${order} must be a positive integer`);
    const sigma = this.sigmas[i];
    // 1. x_0, 2. derivative (x - x_0) / sigma
    const x0 = kPredOriginal(modelOutput, sample, sigma, this.config.prediction_type, this.className);
    const derivative = sample.map((v, j) => f32(v - x0.data[j]) / sigma);
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
    coeffs.slice(0, hist.length).forEach((c, j) => {
      const d = hist[hist.length - 1 - j].data;
      const c32 = f32(c);
      for (let k = 0; k < n; k++) acc[k] = acc[k] + f32(c32 * d[k]);
    });
    const prev = sample.map((v, k) => v + acc[k]);
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(LMSDiscreteScheduler);
