/**
 * DEISMultistepScheduler: Diffusion Exponential Integrator Sampler (Zhang & Chen 2022, "Fast Sampling of
 * Diffusion Models with Exponential Integrator", arXiv:2204.13902), the multistep "log-rho" variant, orders
 * 1-3, with diffusers' config keys and numerics.
 *
 * DEIS writes the probability-flow ODE in rho = sigma_t / alpha_t (the VE noise level) for y = x / alpha:
 * dy/drho = eps(x, t), so one step is exactly y_t = y_s + int_{rho_s}^{rho_t} eps drho (Zhang & Chen, Sec. 3:
 * the exponential integrator with the linear part absorbed). The multistep Adams-Bashforth form (their
 * rhoAB/tAB-DEIS, Sec. 4) extrapolates eps by the Lagrange polynomial through the last k outputs — here in
 * log(rho), diffusers' 'logrho' solver, which gives
 * closed-form weights C_ij = int_{rho_s}^{rho_t} l_j(log rho) drho:
 *   x_t = alpha_t (x_s / alpha_s + sum_j C_j eps_j).
 * Order 1 is DDIM.
 *
 * @example
 *   const s = DEISMultistepScheduler.fromConfig({ solver_order: 3 });
 *   s.setTimesteps(10);
 *   let x = generator.normal([1, 3, 32, 32]);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { predictionToEps, predictionToX0 } from '../diffusion/parameterization.ts';
import { appendFinalSigma } from '../schedules/sigmas.ts';
import {
  COMMON_KEYS,
  enumKey,
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
  ExponentialIntegratorScheduler,
} from './exponential_integrator.ts';
import { lincomb, trainingSigmaMin } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** Map sibling solver names (diffusers): algorithm_type dpmsolver/dpmsolver++ -> deis; solver_type midpoint/heun/bh1/bh2 -> logrho. */
function mapDeisNames(config: SchedulerConfig): SchedulerConfig {
  const out = { ...config };
  if (out.algorithm_type === 'dpmsolver' || out.algorithm_type === 'dpmsolver++') out.algorithm_type = 'deis';
  if (
    out.solver_type === 'midpoint' ||
    out.solver_type === 'heun' ||
    out.solver_type === 'bh1' ||
    out.solver_type === 'bh2'
  )
    out.solver_type = 'logrho';
  return out;
}

const lg = (x: number) => f32(Math.log(x)); // np.log of a float32

/**
 * int of the degree-1 Lagrange basis in log(rho) that is 1 at b and 0 at c, as an antiderivative at t:
 * t (log t - log c - 1) / (log b - log c)  (float32, diffusers' second-order ind_fn).
 */
function ind2(t: number, b: number, c: number): number {
  const num = f32(f32(f32(-lg(c)) + lg(t)) - 1);
  return f32(f32(t * num) / f32(lg(b) - lg(c)));
}

/**
 * Antiderivative of the degree-2 Lagrange basis in log(rho) that is 1 at b and 0 at c, d
 * (float32, diffusers' third-order ind_fn).
 */
function ind3(t: number, b: number, c: number, d: number): number {
  const lt = lg(t),
    lc = lg(c),
    ld = lg(d),
    lb = lg(b);
  let num = f32(lc * f32(f32(ld - lt) + 1));
  num = f32(num - f32(ld * lt));
  num = f32(num + ld);
  num = f32(num + f32(lt * lt));
  num = f32(num - f32(2 * lt));
  num = f32(num + 2);
  const den = f32(f32(lb - lc) * f32(lb - ld));
  return f32(f32(t * num) / den);
}

/** DEIS multistep with log-rho polynomial extrapolation (diffusers' DEISMultistepScheduler); deterministic. */
export class DEISMultistepScheduler extends ExponentialIntegratorScheduler {
  static override readonly className: string = 'DEISMultistepScheduler';
  static override readonly configSpec = {
    ...DPM_FAMILY_HEAD,
    algorithm_type: enumKey('deis', ['deis'], "'dpmsolver' and 'dpmsolver++' configs are mapped to 'deis'"),
    solver_type: enumKey('logrho', ['logrho'], "'midpoint', 'heun', 'bh1', 'bh2' configs are mapped to 'logrho'"),
    lower_order_final: DPM_FAMILY_KEYS.lower_order_final,
    ...SIGMA_GRID_KEYS,
    ...DPM_FLOW_KEYS,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
    ...DPM_SHIFT_KEYS,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DEISMultistepScheduler.configSpec>;

  constructor(config: SchedulerConfig = {}) {
    super(mapDeisNames(config));
    this.resetHistory();
  }

  /**
   * Build the inference grid (spacing per timestep_spacing, or Karras / exponential / beta sigmas). The final
   * sigma is the training sigma_min, or — for converted grids — the last grid sigma repeated (as diffusers).
   * @example s.setTimesteps(10);
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const req = this.timestepsRequest(arg);
    if (req.timesteps !== undefined)
      throw new Error(
        `${this.className}.setTimesteps: custom timesteps are not supported by DEIS (as in diffusers); pass numInferenceSteps`,
      );
    const grid = this.buildGrid(req);
    const last =
      this.gridKind() === 'interp' ? trainingSigmaMin(this.alphasCumprod) : grid.sigmas[grid.sigmas.length - 1];
    this.setGrid(grid.timesteps, appendFinalSigma(grid.sigmas, last));
    this.numInferenceSteps = grid.timesteps.length;
    this.resetHistory();
  }

  /** eps from the raw model output via x0 (so dynamic thresholding of x0 applies): eps = (x - alpha x0) / sigma. */
  override convertModelOutput(modelOutput: NDArray, sample: NDArray): { converted: NDArray; x0: NDArray } {
    const c = this.config;
    const { alpha, sigma } = this.point(this.stepIdx as number);
    const x0 = this.maybeThreshold(
      predictionToX0(this.meanChannels(modelOutput, sample), c.prediction_type, sample, alpha, sigma),
    );
    return { converted: predictionToEps(x0, 'sample', sample, alpha, sigma), x0 };
  }

  /**
   * One DEIS step of order min(solver_order, steps so far + 1), lowered at the last two steps by
   * lower_order_final when there are fewer than 15 steps.
   * @example const { prevSample } = s.step(eps, s.timesteps[0], xT);
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(modelOutput, timestep, sample);
    const order = this.multistepOrder(i);
    const { converted, x0 } = this.convertModelOutput(modelOutput, sample);
    this.pushOutput(converted);
    let prevSample: NDArray;
    // order 1 is DDIM: the first-order exponential integrator in noise-prediction form
    if (order === 1) prevSample = this.firstOrderUpdate(converted, sample, null, 'dpmsolver');
    else if (order === 2) prevSample = this.secondOrderUpdate(sample);
    else prevSample = this.thirdOrderUpdate(sample);
    this.countStep();
    this.stepIdx = i + 1;
    return { prevSample, predOriginalSample: x0 };
  }

  /** Order 2: eps linear in log(rho) through (rho_s0, eps_0), (rho_s1, eps_1), integrated from rho_s0 to rho_t. */
  protected secondOrderUpdate(sample: NDArray): NDArray {
    const i = this.stepIdx as number;
    const t = this.point(i + 1),
      s0 = this.point(i),
      s1 = this.point(i - 1);
    const m0 = this.output(0),
      m1 = this.output(1);
    const rt = f32(t.sigma / t.alpha),
      r0 = f32(s0.sigma / s0.alpha),
      r1 = f32(s1.sigma / s1.alpha);
    const coef1 = f32(ind2(rt, r0, r1) - ind2(r0, r0, r1));
    const coef2 = f32(ind2(rt, r1, r0) - ind2(r0, r1, r0));
    return lincomb([
      [t.alpha / s0.alpha, sample],
      [t.alpha * coef1, m0],
      [t.alpha * coef2, m1],
    ]);
  }

  /** Order 3: eps quadratic in log(rho) through the last three outputs, integrated from rho_s0 to rho_t. */
  protected thirdOrderUpdate(sample: NDArray): NDArray {
    const i = this.stepIdx as number;
    const t = this.point(i + 1),
      s0 = this.point(i),
      s1 = this.point(i - 1),
      s2 = this.point(i - 2);
    const m0 = this.output(0),
      m1 = this.output(1),
      m2 = this.output(2);
    const rt = f32(t.sigma / t.alpha),
      r0 = f32(s0.sigma / s0.alpha);
    const r1 = f32(s1.sigma / s1.alpha),
      r2 = f32(s2.sigma / s2.alpha);
    const coef1 = f32(ind3(rt, r0, r1, r2) - ind3(r0, r0, r1, r2));
    const coef2 = f32(ind3(rt, r1, r2, r0) - ind3(r0, r1, r2, r0));
    const coef3 = f32(ind3(rt, r2, r0, r1) - ind3(r0, r2, r0, r1));
    return lincomb([
      [t.alpha / s0.alpha, sample],
      [t.alpha * coef1, m0],
      [t.alpha * coef2, m1],
      [t.alpha * coef3, m2],
    ]);
  }
}

registerScheduler(DEISMultistepScheduler);
