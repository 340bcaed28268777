/**
 * DPMSolverMultistepScheduler: multistep DPM-Solver (Lu et al. 2022a, "DPM-Solver: A Fast ODE Solver for
 * Diffusion Probabilistic Model Sampling in Around 10 Steps", arXiv:2206.00927) and DPM-Solver++
 * (Lu et al. 2022b, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models",
 * arXiv:2211.01095), orders 1-3, ODE and SDE variants, with diffusers' config keys and numerics.
 *
 * With lambda = log(alpha_t / sigma_t) and h = lambda_t - lambda_s, the diffusion ODE integrates exactly
 * in its linear part (DPM-Solver Sec. 3.1, eq. (3.4); DPM-Solver++ Sec. 4.1 for the data-prediction form):
 *   noise prediction ('dpmsolver'):  x_t = (alpha_t/alpha_s) x_s - alpha_t int_{lambda_s}^{lambda_t} e^{-lambda} eps dlambda
 *   data prediction ('dpmsolver++'): x_t = (sigma_t/sigma_s) x_s + sigma_t int_{lambda_s}^{lambda_t} e^{lambda} x0 dlambda
 * and the remaining integral is approximated from the last 1-3 model outputs (Taylor expansion in lambda,
 * with backward differences D1, D2 as the multistep derivative estimates).
 * 'sde-dpmsolver' / 'sde-dpmsolver++' solve the reverse SDE instead (variance-matched noise each step;
 * Lu et al. 2022b's SDE-DPM-Solver++ and its noise-prediction counterpart).
 *
 * @example
 *   const s = DPMSolverMultistepScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
 *   s.setTimesteps(20);
 *   let x = generator.normal([1, 4, 64, 64]);
 *   for (const t of s.timesteps) x = s.step(unet(x, t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { appendFinalSigma } from '../schedules/sigmas.ts';
import {
  COMMON_KEYS,
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
import {
  dpmConvertModelOutput,
  dpmFirstOrder,
  dpmMultistepSecondOrder,
  dpmMultistepThirdOrder,
  expIntCoefficients,
  meanChannels,
} from './dpm_solver_math.ts';
import { drawNoise, trainingSigmaMin } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** algorithm_type values of DPMSolverMultistepScheduler. */
export const DPM_ALGORITHM_TYPES = ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++'] as const;
/** Extra step options: `varianceNoise` replaces the generator draw of SDE variants. */
export type DPMSolverStepOptions = StepOptions;

/**
 * DPM-Solver / DPM-Solver++ multistep scheduler (diffusers' DPMSolverMultistepScheduler).
 * Reads `generator` (or `varianceNoise`) in step() for the 'sde-*' algorithm types.
 */
export class DPMSolverMultistepScheduler extends ExponentialIntegratorScheduler {
  static override readonly className: string = 'DPMSolverMultistepScheduler';
  static override readonly configSpec = {
    ...DPM_FAMILY_HEAD,
    algorithm_type: enumKey('dpmsolver++', DPM_ALGORITHM_TYPES),
    solver_type: enumKey('midpoint', DPM_SOLVER_TYPES),
    lower_order_final: DPM_FAMILY_KEYS.lower_order_final,
    euler_at_final: key('bool', false),
    ...SIGMA_GRID_KEYS,
    use_lu_lambdas: key('bool', false),
    ...DPM_FLOW_KEYS,
    final_sigmas_type: DPM_FAMILY_KEYS.final_sigmas_type,
    lambda_min_clipped: DPM_FAMILY_KEYS.lambda_min_clipped,
    variance_type: DPM_FAMILY_KEYS.variance_type,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
    ...DPM_SHIFT_KEYS,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof DPMSolverMultistepScheduler.configSpec>;

  constructor(config: SchedulerConfig = {}) {
    super(mapDpmSolverNames(config));
    const c = this.config;
    if (
      c.algorithm_type !== 'dpmsolver++' &&
      c.algorithm_type !== 'sde-dpmsolver++' &&
      c.final_sigmas_type === 'zero'
    ) {
      throw new Error(
        `${this.className} config: final_sigmas_type = 'zero' is not supported for algorithm_type = '${c.algorithm_type}' (the noise-prediction update divides by sigma = 0); use final_sigmas_type = 'sigma_min' or algorithm_type 'dpmsolver++' / 'sde-dpmsolver++'`,
      );
    }
    this.resetHistory();
  }

  /**
   * Build the inference grid: `n` steps with the configured spacing (or custom integer timesteps), the
   * sigma grid of use_karras_sigmas / use_lu_lambdas / use_exponential_sigmas / use_beta_sigmas, timesteps
   * above lambda_min_clipped removed, and the final sigma (0 or the training sigma_min) appended.
   * @example s.setTimesteps(25); s.setTimesteps({ timesteps: [999, 500, 100] });
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const req = this.timestepsRequest(arg);
    const c = this.config;
    const grid = this.buildGrid(req, {
      lastTimestep: c.num_train_timesteps - this.lambdaClippedCount(),
      roundConverted: c.beta_schedule !== 'squaredcos_cap_v2',
    });
    const last = c.final_sigmas_type === 'sigma_min' ? trainingSigmaMin(this.alphasCumprod) : 0;
    this.setGrid(grid.timesteps, appendFinalSigma(grid.sigmas, last));
    this.numInferenceSteps = grid.timesteps.length;
    this.resetHistory();
  }

  /**
   * One step of the multistep solver from grid point s = timesteps[i] to t = the next grid point, of order
   * min(solver_order, steps so far + 1), lowered at the last steps (multistepOrder). The model output is
   * converted to x0 ('++' types) or eps, the weights are diffusers' float32 scalars (expIntCoefficients) and
   * the update is the shared DPM-Solver one (dpm_solver_math.ts).
   * @example const { prevSample } = s.step(eps, s.timesteps[0], xT);
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: DPMSolverStepOptions = {}): StepOutput {
    const i = this.beginStep(modelOutput, timestep, sample);
    const c = this.config;
    const order = this.multistepOrder(i); // dpm_solver_math.multistepOrder with this config's keys
    if (order === 3 && c.algorithm_type === 'sde-dpmsolver') {
      throw new Error(
        `${this.className}.step: solver_order = 3 is not implemented for algorithm_type = 'sde-dpmsolver' (as in diffusers); use solver_order 1 or 2, or 'sde-dpmsolver++'`,
      );
    }
    const s0 = this.point(i);
    const t = this.point(i + 1);
    const { converted, x0 } = dpmConvertModelOutput(
      meanChannels(modelOutput, sample, c.variance_type, this.className),
      sample,
      s0,
      {
        algorithm: c.algorithm_type,
        predictionType: c.prediction_type,
        threshold: c.thresholding ? [c.dynamic_thresholding_ratio, c.sample_max_value] : null,
      },
    );
    this.pushOutput(converted);
    const sde = c.algorithm_type === 'sde-dpmsolver' || c.algorithm_type === 'sde-dpmsolver++';
    const noise = sde
      ? drawNoise(sample.shape, opts, this.className, `algorithm_type = '${c.algorithm_type}' is stochastic`)
      : null;
    // h = lambda_t - lambda_s0
    const h = f32(t.lambda - s0.lambda);
    const co = expIntCoefficients(c.algorithm_type, t, s0, h);
    let prevSample: NDArray;
    if (order === 1) prevSample = dpmFirstOrder(sample, converted, co, noise);
    else if (order === 2) {
      // D1 = (m0 - m1) / r0, r0 = h_0 / h, h_0 = lambda_s0 - lambda_s1
      const r0 = f32(f32(s0.lambda - this.point(i - 1).lambda) / h);
      const b1 = c.solver_type === 'heun' ? co.b1Heun : co.b1Midpoint;
      prevSample = dpmMultistepSecondOrder(sample, this.output(0), this.output(1), { ...co, b1 }, f32(1 / r0), noise);
    } else {
      // r_k = h_k / h with h_0 = lambda_s0 - lambda_s1, h_1 = lambda_s1 - lambda_s2
      const s1 = this.point(i - 1),
        s2 = this.point(i - 2);
      const r0 = f32(f32(s0.lambda - s1.lambda) / h);
      const r1 = f32(f32(s1.lambda - s2.lambda) / h);
      // k0 = 1 / r0, k1 = 1 / r1, q = r0 / (r0 + r1), v = 1 / (r0 + r1)
      const ratios = { k0: f32(1 / r0), k1: f32(1 / r1), q: f32(r0 / f32(r0 + r1)), v: f32(1 / f32(r0 + r1)) };
      const outputs = [this.output(0), this.output(1), this.output(2)] as const;
      prevSample = dpmMultistepThirdOrder(sample, outputs, { ...co, b1: co.b1Heun }, ratios, noise);
    }
    this.countStep();
    this.stepIdx = i + 1;
    return { prevSample, predOriginalSample: x0 };
  }
}

registerScheduler(DPMSolverMultistepScheduler);
