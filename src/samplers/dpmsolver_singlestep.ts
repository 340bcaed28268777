/**
 * DPMSolverSinglestepScheduler: singlestep DPM-Solver (Lu et al. 2022a, arXiv:2206.00927, Algorithms 1-2:
 * DPM-Solver-2 / -3) and DPM-Solver++(2S/3S) (Lu et al. 2022b, arXiv:2211.01095, Algorithm 1), with
 * diffusers' config keys and numerics.
 *
 * A singlestep solver of order k spends k consecutive timesteps on one step of the underlying solver: the
 * first of them is a first-order step from the base point s (which becomes the intermediate point), the
 * next ones re-start from the *same* base sample x_s and use all model outputs gathered since s. With
 * lambda = log(alpha/sigma) and h = lambda_t - lambda_s:
 *   order 2: D0 = m(s), D1 = (m(s1) - m(s)) / r,                r = (lambda_s1 - lambda_s) / h
 *   order 3: D1, D2 from m(s), m(s1), m(s2) by divided differences (DPM-Solver Algorithm 2, 'heun' = Taylor),
 * combined with the exponential-integrator coefficients of DPM-Solver / DPM-Solver++ (see
 * dpmsolver_multistep.ts). `getOrderList` decides which order each timestep runs.
 *
 * @example
 *   const s = DPMSolverSinglestepScheduler.fromConfig({ solver_order: 2 });
 *   s.setTimesteps(20);
 *   let x = generator.normal([1, 3, 32, 32]);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { appendFinalSigma } from '../schedules/sigmas.ts';
import {
  enumKey,
  key,
  registerScheduler,
  SIGMA_GRID_KEYS,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import {
  DPM_FAMILY_HEAD,
  DPM_FAMILY_KEYS,
  DPM_FLOW_KEYS,
  DPM_SHIFT_KEYS,
  DPM_SOLVER_TYPES,
  ExponentialIntegratorScheduler,
  mapDpmSolverNames,
} from './exponential_integrator.ts';
import { dpmMultistepSecondOrder, expIntCoefficients } from './dpm_solver_math.ts';
import { drawNoise, lincomb, trainingSigmaMin } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** algorithm_type values of DPMSolverSinglestepScheduler (no 'sde-dpmsolver' here, as in diffusers). */
export const DPM_SINGLESTEP_ALGORITHM_TYPES = ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver++'] as const;

/**
 * Solver order used at each of `steps` timesteps (diffusers' get_order_list): repeating [1, 2, ..., order]
 * blocks; with lowerOrderFinal the tail is completed by lower orders so every block ends on the grid
 * ([1, 2, 3]* then [1, 2] + [1], [1] or [1, 2]); a final sigma of 0 forces the last step to order 1.
 * @example getOrderList(10, 3, true, 'zero')  // [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
 */
export function getOrderList(
  steps: number,
  order: number,
  lowerOrderFinal: boolean,
  finalSigmasType: string,
): number[] {
  if (!Number.isInteger(order) || order < 1 || order > 3) {
    throw new Error(`DPMSolverSinglestepScheduler: solver_order = ${order} is not supported; allowed values: 1, 2, 3`);
  }
  const rep = (block: number[], times: number): number[] =>
    Array.from({ length: Math.max(0, times) }, () => block).flat();
  let orders: number[];
  if (lowerOrderFinal) {
    if (order === 3) {
      if (steps % 3 === 0) orders = [...rep([1, 2, 3], steps / 3 - 1), 1, 2, 1];
      else if (steps % 3 === 1) orders = [...rep([1, 2, 3], Math.floor(steps / 3)), 1];
      else orders = [...rep([1, 2, 3], Math.floor(steps / 3)), 1, 2];
    } else if (order === 2) {
      if (steps % 2 === 0) orders = [...rep([1, 2], steps / 2 - 1), 1, 1];
      else orders = [...rep([1, 2], Math.floor(steps / 2)), 1];
    } else {
      orders = rep([1], steps);
    }
  } else {
    orders = rep(order === 3 ? [1, 2, 3] : order === 2 ? [1, 2] : [1], Math.floor(steps / order));
  }
  if (finalSigmasType === 'zero' && orders.length > 0) orders[orders.length - 1] = 1;
  return orders;
}

/**
 * Singlestep DPM-Solver / DPM-Solver++ (diffusers' DPMSolverSinglestepScheduler). step() reads `generator`
 * (or `varianceNoise`) for algorithm_type 'sde-dpmsolver++', drawing noise at every step like diffusers.
 */
export class DPMSolverSinglestepScheduler extends ExponentialIntegratorScheduler {
  static override readonly className: string = 'DPMSolverSinglestepScheduler';
  static override readonly configSpec = {
    ...DPM_FAMILY_HEAD,
    algorithm_type: enumKey('dpmsolver++', DPM_SINGLESTEP_ALGORITHM_TYPES),
    solver_type: enumKey('midpoint', DPM_SOLVER_TYPES),
    lower_order_final: key('bool', false),
    ...SIGMA_GRID_KEYS,
    ...DPM_FLOW_KEYS,
    final_sigmas_type: DPM_FAMILY_KEYS.final_sigmas_type,
    lambda_min_clipped: DPM_FAMILY_KEYS.lambda_min_clipped,
    variance_type: DPM_FAMILY_KEYS.variance_type,
    ...DPM_SHIFT_KEYS,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DPMSolverSinglestepScheduler.configSpec>;

  /** The base sample x_s of the current singlestep block (set on each order-1 step). */
  blockSample: NDArray | null = null;
  /** Order of the solver at each timestep of the current schedule (see getOrderList). */
  orderList: number[];
  /**
   * diffusers turns lower_order_final on in set_timesteps when the step count is not a multiple of
   * solver_order, or when the final sigma is 0 (register_to_config); we record it here and in toConfig().
   */
  private lowerOrderFinalForced = false;

  constructor(config: SchedulerConfig = {}) {
    const mapped = mapDpmSolverNames(config);
    super(mapped);
    const c = this.config;
    if (c.algorithm_type === 'dpmsolver' && c.final_sigmas_type === 'zero') {
      throw new Error(
        `${this.className} config: final_sigmas_type = 'zero' is not supported for algorithm_type = 'dpmsolver' (the noise-prediction update divides by sigma = 0); use final_sigmas_type = 'sigma_min' or algorithm_type 'dpmsolver++' / 'sde-dpmsolver++'`,
      );
    }
    this.resetHistory();
    this.orderList = getOrderList(c.num_train_timesteps, c.solver_order, c.lower_order_final, c.final_sigmas_type);
  }

  /** lower_order_final as diffusers' config holds it after set_timesteps. */
  get lowerOrderFinal(): boolean {
    return this.config.lower_order_final || this.lowerOrderFinalForced;
  }

  /**
   * Build the inference grid: round(linspace(0, T - 1 - clipped, n + 1)) reversed (last dropped), or custom
   * timesteps; Karras / exponential / beta sigmas when configured; then the final sigma and the order list.
   * @example s.setTimesteps(25);
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const req = this.timestepsRequest(arg);
    const c = this.config;
    const n = req.numInferenceSteps ?? (req.timesteps as ArrayLike<number>).length;
    const grid = this.buildGrid(req, {
      spacing: 'linspace', // diffusers' singlestep class has no timestep_spacing
      stepsOffset: 0,
      lastTimestep: c.num_train_timesteps - this.lambdaClippedCount(),
    });
    const last = c.final_sigmas_type === 'sigma_min' ? trainingSigmaMin(this.alphasCumprod) : 0;
    this.setGrid(grid.timesteps, appendFinalSigma(grid.sigmas, last));
    this.numInferenceSteps = n;
    this.resetHistory();
    this.blockSample = null;
    if (!this.lowerOrderFinal && (n % c.solver_order !== 0 || c.final_sigmas_type === 'zero')) {
      this.lowerOrderFinalForced = true;
      const why =
        n % c.solver_order !== 0
          ? `num_inference_steps = ${n} is not a multiple of solver_order = ${c.solver_order}`
          : "final_sigmas_type = 'zero'";
      this.warnings.push(`${this.className}: lower_order_final set to true because ${why} (as diffusers does)`);
    }
    this.orderList = getOrderList(n, c.solver_order, this.lowerOrderFinal, c.final_sigmas_type);
  }

  /**
   * One timestep of the singlestep solver: order = orderList[stepIndex] (lowered while outputs are missing,
   * e.g. when a run starts part-way); an order-1 step opens a new block at the current sample.
   * @example const { prevSample } = s.step(eps, s.timesteps[0], xT);
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(modelOutput, timestep, sample);
    const c = this.config;
    const { converted, x0 } = this.convertModelOutput(modelOutput, sample);
    this.pushOutput(converted);
    const noise =
      c.algorithm_type === 'sde-dpmsolver++'
        ? drawNoise(
            sample.shape,
            opts,
            this.className,
            `algorithm_type = '${this.config.algorithm_type}' is stochastic`,
          )
        : null;

    let order = this.orderList[i];
    if (order === undefined) {
      throw new Error(
        `${this.className}.step: no solver order for step ${i} (order list of length ${this.orderList.length}); call setTimesteps again`,
      );
    }
    while (this.modelOutputs[this.modelOutputs.length - order] == null) order--;
    if (order === 1) this.blockSample = sample;
    const x = this.blockSample as NDArray;
    let prevSample: NDArray;
    if (order === 1) prevSample = this.firstOrderUpdate(converted, x, noise);
    else if (order === 2) prevSample = this.secondOrderUpdate(x, noise);
    else prevSample = this.thirdOrderUpdate(x, noise);
    this.stepIdx = i + 1;
    return { prevSample, predOriginalSample: x0 };
  }

  /**
   * Second order from the block base s1 = previous grid point to t, with the intermediate s0 = current point:
   * D0 = m(s1), D1 = (m(s0) - m(s1)) / r0, r0 = (lambda_s0 - lambda_s1) / h (DPM-Solver-2 / DPM-Solver++(2S)).
   */
  protected secondOrderUpdate(sample: NDArray, noise: NDArray | null): NDArray {
    const i = this.stepIdx as number;
    const t = this.point(i + 1),
      s0 = this.point(i),
      s1 = this.point(i - 1);
    const m0 = this.output(0),
      m1 = this.output(1);
    // h = lambda_t - lambda_s1, h_0 = lambda_s0 - lambda_s1, k_0 = 1 / r0 = h / h_0 (via r0 = h_0 / h)
    const h = f32(t.lambda - s1.lambda);
    const h0 = f32(s0.lambda - s1.lambda);
    const k0 = f32(1 / f32(h0 / h));
    const co = expIntCoefficients(this.config.algorithm_type, t, s1, h);
    const b1 = this.config.solver_type === 'heun' ? co.b1Heun : co.b1Midpoint;
    // the 2M update with D0 = m(s1) at the block base and D1 = (m0 - m1) / r0 = -(m1 - m0) k0
    return dpmMultistepSecondOrder(sample, m1, m0, { ...co, b1 }, -k0, noise);
  }

  /**
   * Third order from the block base s2 to t with intermediates s1, s0 (DPM-Solver-3, Lu et al. 2022a
   * Algorithm 2): D1_0 = (m(s1) - m(s2)) / r1, D1_1 = (m(s0) - m(s2)) / r0; 'midpoint' uses D1_1 alone,
   * 'heun' the Taylor pair D1 = (r0 D1_0 - r1 D1_1)/(r0 - r1), D2 = 2 (D1_1 - D1_0)/(r0 - r1).
   */
  protected thirdOrderUpdate(sample: NDArray, noise: NDArray | null): NDArray {
    const i = this.stepIdx as number;
    const t = this.point(i + 1),
      s0 = this.point(i),
      s1 = this.point(i - 1),
      s2 = this.point(i - 2);
    const m0 = this.output(0),
      m1 = this.output(1),
      m2 = this.output(2);
    // h = lambda_t - lambda_s2, h_k = lambda_sk - lambda_s2, r_k = h_k / h, k_k = 1 / r_k
    const h = f32(t.lambda - s2.lambda);
    const h0 = f32(s0.lambda - s2.lambda);
    const h1 = f32(s1.lambda - s2.lambda);
    const r0 = f32(h0 / h),
      r1 = f32(h1 / h);
    const k0 = f32(1 / r0),
      k1 = f32(1 / r1);
    const co = expIntCoefficients(this.config.algorithm_type, t, s2, h);
    let cA: number, cB: number; // coefficients of D1_0 and D1_1
    if (this.config.solver_type === 'heun') {
      const d = f32(r0 - r1);
      const p = r0 / d,
        q = -r1 / d,
        u = 2 / d;
      cA = co.b1Heun * p - co.b2 * u;
      cB = co.b1Heun * q + co.b2 * u;
    } else {
      cA = 0;
      cB = co.b1Heun;
    }
    const terms: Array<[number, NDArray]> = [
      [co.a, sample],
      [cB * k0, m0],
      [cA * k1, m1],
      [co.b0 - cA * k1 - cB * k0, m2],
    ];
    if (noise) terms.push([co.z, noise]);
    return lincomb(terms);
  }

  /** The config, with lower_order_final as set by setTimesteps (like diffusers' register_to_config). */
  override toConfig(): Record<string, unknown> {
    const out = super.toConfig();
    if (this.lowerOrderFinalForced) out.lower_order_final = true;
    return out;
  }
}

registerScheduler(DPMSolverSinglestepScheduler);
