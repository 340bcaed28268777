/**
 * Shared machinery of the exponential-integrator schedulers (DPM-Solver multistep / singlestep,
 * UniPC, DEIS): a VP diffusion x_t = alpha_t x_0 + sigma_t eps described by its noise levels
 * s_t = sigma_t / alpha_t (the "sigmas" table, Karras et al. 2022 Table 1), a step counter into an
 * inference grid of n + 1 sigmas, the forward process on that grid, and diffusers' timestep / sigma
 * grid construction (linspace / leading / trailing spacing, Karras, exponential, beta and
 * uniform-log-SNR sigmas, lambda clipping) with the same float32 / float64 choices.
 *
 * Each solver works in the half log-SNR lambda_t = log(alpha_t / sigma_t) (Lu et al. 2022a,
 * "DPM-Solver", Sec. 3.1), where the linear part of the diffusion ODE integrates exactly.
 *
 * Scalars are computed like diffusers' float32 torch scalars (`Math.fround` after each operation);
 * array updates x_t = sum_k c_k a_k are accumulated in float64 and rounded once.
 *
 * @example
 *   // a subclass sets the grid, then reads sigma / alpha / lambda at the current step:
 *   const { alpha, sigma, lambda } = vpFromSigma(this.sigmas[this.stepIndex!]);
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import { dynamicThreshold } from '../diffusion/thresholding.ts';
import { mixPerSample } from '../diffusion/forward.ts';
import { predictionToEps, predictionToX0 } from '../diffusion/parameterization.ts';
import {
  betaSigmas,
  exponentialSigmas,
  karrasSigmas,
  logSigmas,
  luLambdas,
  sigmasFromAlphasCumprod,
  sigmaToT,
} from '../schedules/sigmas.ts';
import { npArange, npLinspace, roundHalfEven } from '../schedules/numerics.ts';
import {
  checkNumInferenceSteps,
  customTimesteps,
  TIMESTEP_SPACINGS,
  type TimestepSpacing,
} from '../schedules/timesteps.ts';
import {
  betaTableKeys,
  checkSigmaGridFlags,
  COMMON_KEYS,
  enumKey,
  key,
  listAllowed,
  type ConfigOf,
  type ConfigSpec,
  StepIndexScheduler,
  type SIGMA_GRID_KEYS,
  typedKey,
  type SchedulerConfig,
  type SetTimestepsOptions,
} from './scheduler.ts';
import { lincomb } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** solver_type values of the DPM-Solver schedulers (second-order variant). */
export const DPM_SOLVER_TYPES = ['midpoint', 'heun'] as const;

/**
 * Map the solver names of sibling schedulers to this family's (diffusers' register_to_config in __init__):
 * algorithm_type 'deis' -> 'dpmsolver++'; solver_type 'logrho' | 'bh1' | 'bh2' -> 'midpoint'. Lets a DEIS or
 * UniPC config load unchanged.
 */
export function mapDpmSolverNames(config: SchedulerConfig): SchedulerConfig {
  const out = { ...config };
  if (out.algorithm_type === 'deis') out.algorithm_type = 'dpmsolver++';
  if (out.solver_type === 'logrho' || out.solver_type === 'bh1' || out.solver_type === 'bh2')
    out.solver_type = 'midpoint';
  return out;
}

/** alpha_t, sigma_t and lambda_t of the VP process at noise level s = sigma_t / alpha_t. */
export interface VpPoint {
  alpha: number;
  sigma: number;
  lambda: number;
}

/**
 * alpha_t = 1 / sqrt(s^2 + 1), sigma_t = s alpha_t, lambda_t = log alpha_t - log sigma_t, as float32
 * torch scalars (diffusers' `_sigma_to_alpha_sigma_t`). s = 0 gives sigma = 0, lambda = +inf.
 * @example vpFromSigma(1)  // { alpha: 0.7071..., sigma: 0.7071..., lambda: 0 }
 */
export function vpFromSigma(s: number): VpPoint {
  // alpha = 1 / sqrt(s^2 + 1), sigma = s alpha, lambda = log alpha - log sigma
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(s * s) + 1))));
  const sigma = f32(s * alpha);
  const lambda = f32(f32(Math.log(alpha)) - f32(Math.log(sigma)));
  return { alpha, sigma, lambda };
}

/** Which sigma grid setTimesteps builds (diffusers' use_karras_sigmas / use_exponential_sigmas / ...). */
export type SigmaGridKind = 'interp' | 'karras' | 'exponential' | 'beta' | 'lu';

/** Request for {@link buildSigmaGrid}. */
export interface SigmaGridRequest {
  owner: string;
  alphasCumprod: Float32Array;
  numInferenceSteps?: number;
  /** Custom integer timesteps (descending); only with kind 'interp'. */
  customTimesteps?: ArrayLike<number>;
  spacing: string;
  stepsOffset: number;
  /** Timesteps above T - clippedIdx are not used (DPM-Solver's lambda_min_clipped). Default T. */
  lastTimestep?: number;
  kind: SigmaGridKind;
  /** Round the timesteps recovered from Karras / Lu sigmas (np.round); exponential / beta never round. */
  roundConverted: boolean;
  /** Override the sigma range of Karras / exponential / beta grids (UniPC's sigma_min / sigma_max). */
  sigmaMin?: number | null;
  sigmaMax?: number | null;
}

/** Result of {@link buildSigmaGrid}: integer timesteps and their sigmas (no final sigma yet, float64). */
export interface SigmaGrid {
  timesteps: Float64Array;
  sigmas: Float64Array;
}

/**
 * Descending integer timesteps of DPM-Solver-family schedulers (Lin et al. 2024, Table 2 spacings):
 * linspace: round(linspace(0, last - 1, n + 1)) reversed, last dropped; leading: (0..n) * (last div (n+1))
 * reversed, last dropped, + steps_offset; trailing: round(arange(last, 0, -T/n)) - 1.
 * @example dpmSpacedTimesteps('linspace', 10, 1000, 1000, 0)  // [999, 899, 799, ..., 100]
 */
export function dpmSpacedTimesteps(
  spacing: string,
  n: number,
  T: number,
  last: number,
  stepsOffset: number,
  owner: string,
): Float64Array {
  if (spacing === 'linspace') {
    const lin = npLinspace(0, last - 1, n + 1);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = roundHalfEven(lin[n - i]);
    return out;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(last / (n + 1));
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (n - i) * ratio + stepsOffset;
    return out;
  }
  if (spacing === 'trailing') {
    const ts = npArange(last, 0, -T / n);
    return ts.map((v) => roundHalfEven(v) - 1);
  }
  throw new Error(
    `${owner}: timestep_spacing = ${JSON.stringify(spacing)} is not supported; allowed values: ${listAllowed(TIMESTEP_SPACINGS)}`,
  );
}

/**
 * Build the inference grid of a DPM-Solver-family scheduler (diffusers' set_timesteps before the final
 * sigma is appended). Sigma grids: Karras et al. 2022 eq. (5) (rho = 7); exponential (log-uniform);
 * beta (Lee et al. 2024); 'lu': uniform in lambda (DPM-Solver Sec. 3.3); 'interp': the training sigmas at
 * the spaced timesteps. Timesteps of converted grids come from log-sigma interpolation, truncated to integers
 * (after np.round where `roundConverted`).
 * @example buildSigmaGrid({ owner: 'x', alphasCumprod, numInferenceSteps: 10, spacing: 'linspace', stepsOffset: 0, kind: 'interp', roundConverted: true })
 */
export function buildSigmaGrid(req: SigmaGridRequest): SigmaGrid {
  const { owner, alphasCumprod, kind } = req;
  const T = alphasCumprod.length;
  const table = sigmasFromAlphasCumprod(alphasCumprod); // float32, ascending in t
  let timesteps: Float64Array;
  if (req.customTimesteps !== undefined) {
    if (kind !== 'interp') {
      throw new Error(
        `${owner}.setTimesteps: custom timesteps cannot be combined with the '${kind}' sigma grid (use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas / use_lu_lambdas must be false)`,
      );
    }
    timesteps = customTimesteps(req.customTimesteps, T, `${owner}.setTimesteps`);
  } else {
    const n = req.numInferenceSteps;
    checkNumInferenceSteps(n, T, `${owner}.setTimesteps`);
    timesteps = dpmSpacedTimesteps(req.spacing, n, T, req.lastTimestep ?? T, req.stepsOffset, `${owner}.setTimesteps`);
  }
  if (kind === 'interp') {
    const sigmas = new Float64Array(timesteps.length);
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i];
      if (!(t >= 0 && t < T))
        throw new Error(
          `${owner}.setTimesteps: timestep ${t} is outside [0, ${T - 1}] (num_inference_steps too large for this spacing?)`,
        );
      sigmas[i] = table[t]; // np.interp at integer nodes
    }
    return { timesteps, sigmas };
  }
  const n = req.numInferenceSteps as number;
  const logS = logSigmas(table);
  // diffusers flips the ascending table, so in_sigmas[0] = sigma at T - 1 and in_sigmas[-1] = sigma at 0
  const sigmaMin = req.sigmaMin ?? table[0];
  const sigmaMax = req.sigmaMax ?? table[T - 1];
  let sigmas: Float64Array;
  let round = false;
  switch (kind) {
    case 'karras':
      sigmas = karrasSigmas(sigmaMin, sigmaMax, n);
      round = req.roundConverted;
      break;
    case 'exponential':
      sigmas = exponentialSigmas(sigmaMin, sigmaMax, n);
      break;
    case 'beta':
      sigmas = betaSigmas(sigmaMin, sigmaMax, n);
      break;
    case 'lu':
      sigmas = luLambdas(logS[T - 1], logS[0], n).map(Math.exp);
      round = req.roundConverted;
      break;
    default:
      throw new Error(`${owner}: unknown sigma grid ${JSON.stringify(kind)}`);
  }
  timesteps = sigmas.map((s) => {
    const t = sigmaToT(s, logS);
    return Math.trunc(round ? roundHalfEven(t) : t); // .astype(int64)
  });
  return { timesteps, sigmas };
}

/**
 * Coefficients of one exponential-integrator step from the base point s to t, h = lambda_t - lambda_s, as
 * diffusers' float32 torch scalars. The update is x_t = a x_s + b0 D0 + b1 D1 (+ b2 D2) (+ z noise) with
 * D0 the model output at s and D1, D2 the divided-difference estimates of its derivatives in lambda:
 * - 'dpmsolver++' (data prediction, DPM-Solver++ Sec. 4.1): a = sigma_t/sigma_s, b0 = -alpha_t (e^{-h} - 1),
 *   b1 = alpha_t ((e^{-h} - 1)/h + 1) (Taylor, 'heun') or b0/2 ('midpoint'), b2 = -alpha_t ((e^{-h} - 1 + h)/h^2 - 1/2);
 * - 'dpmsolver' (noise prediction, DPM-Solver Sec. 3.3; also DEIS order 1): a = alpha_t/alpha_s,
 *   b0 = -sigma_t (e^h - 1), b1 = -sigma_t ((e^h - 1)/h - 1) or b0/2, b2 = -sigma_t ((e^h - 1 - h)/h^2 - 1/2);
 * - 'sde-dpmsolver++' (SDE-DPM-Solver++): a = (sigma_t/sigma_s) e^{-h}, b0 = alpha_t (1 - e^{-2h}),
 *   b1 = alpha_t ((1 - e^{-2h})/(-2h) + 1) or b0/2, b2 = alpha_t ((1 - e^{-2h} - 2h)/(2h)^2 - 1/2),
 *   z = sigma_t sqrt(1 - e^{-2h});
 * - 'sde-dpmsolver': a = alpha_t/alpha_s, b0 = -2 sigma_t (e^h - 1), b1 = 2 x the 'dpmsolver' value or b0/2,
 *   z = sigma_t sqrt(e^{2h} - 1); no b2 (diffusers has no third order here: NaN).
 * @example const co = expIntCoefficients('dpmsolver++', vpFromSigma(0.5), vpFromSigma(1), h);
 */
export function expIntCoefficients(algorithm: string, t: VpPoint, s: VpPoint, h: number): ExpIntCoefficients {
  switch (algorithm) {
    case 'dpmsolver++': {
      const em = f32(f32(Math.exp(-h)) - 1); // e^{-h} - 1
      // a = sigma_t / sigma_s, b0 = -alpha_t (e^{-h} - 1), b1 = b0 / 2 (midpoint) or alpha_t ((e^{-h} - 1)/h + 1) (heun),
      // b2 = -alpha_t ((e^{-h} - 1 + h) / h^2 - 1/2)
      return {
        a: f32(t.sigma / s.sigma),
        b0: -f32(t.alpha * em),
        b1Midpoint: -f32(0.5 * f32(t.alpha * em)),
        b1Heun: f32(t.alpha * f32(f32(em / h) + 1)),
        b2: -f32(t.alpha * f32(f32(f32(em + h) / f32(h * h)) - 0.5)),
        z: 0,
      };
    }
    case 'dpmsolver': {
      const ep = f32(f32(Math.exp(h)) - 1); // e^{h} - 1
      // a = alpha_t / alpha_s, b0 = -sigma_t (e^h - 1), b1 = b0 / 2 (midpoint) or -sigma_t ((e^h - 1)/h - 1) (heun),
      // b2 = -sigma_t ((e^h - 1 - h) / h^2 - 1/2)
      return {
        a: f32(t.alpha / s.alpha),
        b0: -f32(t.sigma * ep),
        b1Midpoint: -f32(0.5 * f32(t.sigma * ep)),
        b1Heun: -f32(t.sigma * f32(f32(ep / h) - 1)),
        b2: -f32(t.sigma * f32(f32(f32(ep - h) / f32(h * h)) - 0.5)),
        z: 0,
      };
    }
    case 'sde-dpmsolver++': {
      const one = f32(1 - f32(Math.exp(f32(-2 * h)))); // 1 - e^{-2h}
      const m2h = f32(-2 * h);
      // a = sigma_t / sigma_s e^{-h}, b0 = alpha_t (1 - e^{-2h}), b1 = b0 / 2 or alpha_t ((1 - e^{-2h}) / (-2h) + 1),
      // z = sigma_t sqrt(1 - e^{-2h})
      return {
        a: f32(f32(t.sigma / s.sigma) * f32(Math.exp(-h))),
        b0: f32(t.alpha * one),
        b1Midpoint: f32(0.5 * f32(t.alpha * one)),
        b1Heun: f32(t.alpha * f32(f32(one / m2h) + 1)),
        b2: f32(t.alpha * f32(f32(f32(one + m2h) / f32(m2h * m2h)) - 0.5)),
        z: f32(t.sigma * f32(Math.sqrt(one))),
      };
    }
    case 'sde-dpmsolver': {
      const ep = f32(f32(Math.exp(h)) - 1); // e^{h} - 1
      // a = alpha_t / alpha_s, b0 = -2 sigma_t (e^h - 1), z = sigma_t sqrt(e^{2h} - 1)
      return {
        a: f32(t.alpha / s.alpha),
        b0: -f32(2 * f32(t.sigma * ep)),
        b1Midpoint: -f32(t.sigma * ep),
        b1Heun: -f32(2 * f32(t.sigma * f32(f32(ep / h) - 1))),
        b2: NaN,
        z: f32(t.sigma * f32(Math.sqrt(f32(f32(Math.exp(f32(2 * h))) - 1)))),
      };
    }
    default:
      throw new Error(
        `expIntCoefficients: algorithm_type = ${JSON.stringify(algorithm)} is not supported; allowed values: 'dpmsolver++', 'dpmsolver', 'sde-dpmsolver++', 'sde-dpmsolver'`,
      );
  }
}

/** See {@link expIntCoefficients}. */
export interface ExpIntCoefficients {
  /** weight of the base sample x_s */
  a: number;
  /** weight of D0 (the model output at s) */
  b0: number;
  /** weight of D1 for solver_type 'midpoint' (half the first-order weight) */
  b1Midpoint: number;
  /** weight of D1 for solver_type 'heun' (the phi_2 Taylor term); also the third-order D1 weight */
  b1Heun: number;
  /** weight of D2 (phi_3 Taylor term) of third-order updates */
  b2: number;
  /** weight of the standard-normal noise (SDE variants; 0 for the ODE ones) */
  z: number;
}

/**
 * The keys that open every DPM-family config (diffusers' names, defaults and order): the beta table,
 * solver_order, prediction_type and dynamic thresholding. Subclasses override solver_order where it differs.
 */
export const DPM_FAMILY_HEAD = {
  ...betaTableKeys(),
  solver_order: key('int', 2, { min: 1, max: 3, help: 'allowed values: 1, 2, 3' }),
  prediction_type: COMMON_KEYS.prediction_type,
  thresholding: COMMON_KEYS.thresholding,
  dynamic_thresholding_ratio: COMMON_KEYS.dynamic_thresholding_ratio,
  sample_max_value: COMMON_KEYS.sample_max_value,
} satisfies ConfigSpec;

/** Flow-matching sigma keys, accepted at their defaults only (not implemented). */
export const DPM_FLOW_KEYS = {
  use_flow_sigmas: key('bool', false, { help: 'flow-matching sigmas are not implemented; allowed values: false' }),
  flow_shift: key('number', 1.0),
} satisfies ConfigSpec;

/** Flow-matching time-shift keys, accepted at their defaults only (not implemented). */
export const DPM_SHIFT_KEYS = {
  use_dynamic_shifting: key('bool', false, {
    help: 'dynamic shifting is for flow matching and is not implemented; allowed values: false',
  }),
  time_shift_type: enumKey('exponential', ['exponential']),
} satisfies ConfigSpec;

/** Other config keys shared by several DPM-family classes (diffusers' names and defaults). */
export const DPM_FAMILY_KEYS = {
  lower_order_final: key('bool', true),
  final_sigmas_type: enumKey('zero', ['zero', 'sigma_min']),
  lambda_min_clipped: typedKey<number | null>(-Infinity, { nullable: true, help: 'a number, -Infinity to disable' }),
  variance_type: key('string', null, {
    nullable: true,
    help: "'learned' or 'learned_range' when the model also predicts variance channels",
  }),
} satisfies ConfigSpec;

/**
 * The config keys the DPM-family base class reads: the head keys, the sigma-grid and flow switches, and keys
 * only some classes have (absent: off, or the class passes its own value).
 */
export type DpmFamilyConfig = ConfigOf<typeof DPM_FAMILY_HEAD> &
  ConfigOf<typeof SIGMA_GRID_KEYS> &
  ConfigOf<typeof DPM_FLOW_KEYS> &
  ConfigOf<typeof DPM_SHIFT_KEYS> &
  Partial<ConfigOf<typeof DPM_FAMILY_KEYS>> & {
    readonly lower_order_final: boolean;
    readonly algorithm_type?: string;
    readonly solver_type: string;
    readonly euler_at_final?: boolean;
    readonly use_lu_lambdas?: boolean;
    readonly timestep_spacing?: TimestepSpacing;
    readonly steps_offset?: number;
    readonly rescale_betas_zero_snr?: boolean;
  };

/**
 * Base of DPM-Solver-family schedulers: the sigma grid, diffusers' step-index bookkeeping and addNoise on
 * the grid. (Keys of sibling classes are kept as hidden config by Scheduler.toConfig.)
 */
export abstract class ExponentialIntegratorScheduler extends StepIndexScheduler {
  declare readonly config: DpmFamilyConfig;
  /**
   * Noise levels s = sigma_t / alpha_t: the training table (ascending in t) before setTimesteps, then the
   * inference grid (n + 1 values, descending, float32; the last one is 0 or sigma_min).
   */
  sigmas: Float32Array;
  /**
   * Converted model outputs (x0 or eps, per class) of the last solver_order steps, oldest first; null where
   * a step has not run yet.
   */
  modelOutputs: Array<NDArray | null> = [];
  /** Warm-up counter of the multistep methods: steps run so far, capped at solver_order. */
  lowerOrderNums = 0;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const c = this.config;
    if ('lambda_min_clipped' in c) {
      const l = c.lambda_min_clipped;
      if (l !== null && (typeof l !== 'number' || Number.isNaN(l))) {
        throw new Error(
          `${this.className} config: lambda_min_clipped = ${JSON.stringify(l)} must be a number (or -Infinity / null to disable)`,
        );
      }
    }
    for (const k of ['use_flow_sigmas', 'use_dynamic_shifting'] as const) {
      if (c[k] === true)
        throw new Error(
          `${this.className} config: ${k} = true is not supported (flow-matching schedules are not implemented); allowed values: false`,
        );
    }
    checkSigmaGridFlags(c, this.className);
    this.clampZeroTerminalSnr();
    this.sigmas = sigmasFromAlphasCumprod(this.alphasCumprod);
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T);
    for (let i = 0; i < T; i++) this.timesteps[i] = T - 1 - i;
  }

  /** A timestep that is not in the schedule maps to the last grid index (diffusers' DPM index_for_timestep). */
  protected override timestepNotInSchedule(_t: number): number {
    return this.timesteps.length - 1;
  }

  /** Common start of step(): checks, step-index initialisation, shape of the model output. */
  protected beginStep(modelOutput: NDArray, timestep: number, sample: NDArray): number {
    this.requireTimesteps();
    if (!(modelOutput instanceof NDArray) || !(sample instanceof NDArray)) {
      throw new Error(`${this.className}.step: modelOutput and sample must be NDArrays`);
    }
    if (typeof timestep !== 'number' || Number.isNaN(timestep)) {
      throw new Error(
        `${this.className}.step: timestep = ${String(timestep)} must be a number (one of scheduler.timesteps)`,
      );
    }
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const i = this.stepIdx as number;
    if (i >= this.timesteps.length) {
      throw new Error(
        `${this.className}.step: called ${i + 1} times but the schedule has ${this.timesteps.length} timesteps; call setTimesteps again to start a new run`,
      );
    }
    return i;
  }

  /** alpha_t, sigma_t, lambda_t at grid position k. */
  protected point(k: number): VpPoint {
    return vpFromSigma(this.sigmas[k]);
  }

  /** The k-th newest converted model output (0 = this step's). */
  protected output(k: number): NDArray {
    return this.modelOutputs[this.modelOutputs.length - 1 - k] as NDArray;
  }

  /** Forget the model outputs of the last run (setTimesteps). */
  protected resetHistory(): void {
    this.modelOutputs = new Array(this.config.solver_order).fill(null);
    this.lowerOrderNums = 0;
  }

  /** Append this step's converted output, dropping the oldest. */
  protected pushOutput(converted: NDArray): void {
    this.modelOutputs.shift();
    this.modelOutputs.push(converted);
  }

  /** Count a finished step for the multistep warm-up. */
  protected countStep(): void {
    if (this.lowerOrderNums < this.config.solver_order) this.lowerOrderNums++;
  }

  /**
   * Order of multistep step i (diffusers' DPM-Solver multistep and DEIS): min(solver_order, steps so far + 1),
   * lowered to 1 at the last step (euler_at_final, a final sigma of 0, or lower_order_final with fewer than
   * 15 steps) and to 2 at the second-to-last (lower_order_final with fewer than 15 steps). Keys a class does
   * not have (DEIS: euler_at_final, final_sigmas_type) count as off.
   */
  protected multistepOrder(i: number): number {
    const c = this.config;
    const n = this.timesteps.length;
    const lowerOrderFinal =
      i === n - 1 && (c.euler_at_final === true || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;
    if (c.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) return 1;
    if (c.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) return 2;
    return 3;
  }

  /**
   * Number of training timesteps whose lambda_t is below lambda_min_clipped (counted like torch.searchsorted
   * over the flipped lambdas); DPM-Solver drops them from the grid (critical for cosine schedules).
   */
  protected lambdaClippedCount(): number {
    const c = this.config;
    const lmin = c.lambda_min_clipped == null ? -Infinity : c.lambda_min_clipped;
    if (!(lmin > -Infinity)) return 0;
    const thr = f32(lmin);
    let clipped = 0;
    for (let t = 0; t < this.alphasCumprod.length; t++) {
      const a = this.alphasCumprod[t];
      // lambda_t = log sqrt(abar_t) - log sqrt(1 - abar_t)
      const lam = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
      if (lam < thr) clipped++;
    }
    return clipped;
  }

  /**
   * DPM-Solver's model-output conversion (diffusers' convert_model_output): x0 for 'dpmsolver++' /
   * 'sde-dpmsolver++' (data prediction), eps for 'dpmsolver' / 'sde-dpmsolver' (noise prediction), from the
   * raw model output at the current grid point. Learned-variance outputs keep only their mean channels;
   * thresholding acts on x0 (for noise prediction eps is recomputed from the thresholded x0; diffusers'
   * singlestep class reads alpha_t at a `timestep` it no longer passes here and fails, we threshold at the
   * current grid point like the multistep class). UniPC and DEIS override this.
   */
  convertModelOutput(modelOutput: NDArray, sample: NDArray): { converted: NDArray; x0: NDArray } {
    const c = this.config;
    const out = this.meanChannels(modelOutput, sample);
    const { alpha, sigma } = this.point(this.stepIdx as number);
    if (c.algorithm_type === 'dpmsolver++' || c.algorithm_type === 'sde-dpmsolver++') {
      const x0 = this.maybeThreshold(predictionToX0(out, c.prediction_type, sample, alpha, sigma));
      return { converted: x0, x0 };
    }
    let eps = predictionToEps(out, c.prediction_type, sample, alpha, sigma);
    let x0 = predictionToX0(eps, 'epsilon', sample, alpha, sigma);
    if (c.thresholding) {
      x0 = this.maybeThreshold(x0);
      eps = predictionToEps(x0, 'sample', sample, alpha, sigma);
    }
    return { converted: eps, x0 };
  }

  /**
   * First-order step from the current grid point s to the next one t (DPM-Solver-1 / DPM-Solver++(1) = DDIM,
   * DPM-Solver Sec. 3.3, DPM-Solver++ Sec. 4.1; SDE variants add sqrt-variance noise):
   *   '++': x_t = (sigma_t/sigma_s) x_s - alpha_t (e^{-h} - 1) x0_s;  noise: x_t = (alpha_t/alpha_s) x_s - sigma_t (e^h - 1) eps_s.
   * `algorithm` defaults to the config's algorithm_type (DEIS passes 'dpmsolver').
   */
  protected firstOrderUpdate(
    m0: NDArray,
    sample: NDArray,
    noise: NDArray | null = null,
    algorithm: string = this.config.algorithm_type ?? 'dpmsolver++',
  ): NDArray {
    const i = this.stepIdx as number;
    const t = this.point(i + 1);
    const s = this.point(i);
    const co = expIntCoefficients(algorithm, t, s, f32(t.lambda - s.lambda));
    const terms: Array<[number, NDArray]> = [
      [co.a, sample],
      [co.b0, m0],
    ];
    if (noise) terms.push([co.z, noise]);
    return lincomb(terms);
  }

  /** Keep the first C channels of a [B, 2C, ...] output when the model also predicts variances. */
  protected meanChannels(modelOutput: NDArray, sample: NDArray): NDArray {
    const vt = this.config.variance_type;
    if ((vt === 'learned' || vt === 'learned_range') && !sameShape(modelOutput.shape, sample.shape)) {
      const [B, C2, ...rest] = modelOutput.shape;
      const C = sample.shape[1];
      if (sample.shape[0] !== B || C2 < C || rest.join() !== sample.shape.slice(2).join()) {
        throw new Error(
          `${this.className}.step: model output of shape [${modelOutput.shape.join(', ')}] does not hold the ${C} mean channels of a sample of shape [${sample.shape.join(', ')}]`,
        );
      }
      const inner = rest.reduce((p, d) => p * d, 1);
      const out = new NDArray(sample.shape);
      for (let b = 0; b < B; b++)
        out.data.set(modelOutput.data.subarray(b * C2 * inner, (b * C2 + C) * inner), b * C * inner);
      return out;
    }
    if (!sameShape(modelOutput.shape, sample.shape)) {
      throw new Error(
        `${this.className}.step: model output shape [${modelOutput.shape.join(', ')}] differs from sample shape [${sample.shape.join(', ')}]${vt == null ? " (set variance_type: 'learned_range' if the model also predicts variances)" : ''}`,
      );
    }
    return modelOutput;
  }

  /** Dynamic thresholding of x_0 when `thresholding` is on (Imagen, Saharia et al. 2022, Sec. 2.3). */
  protected maybeThreshold(x0: NDArray): NDArray {
    const c = this.config;
    return c.thresholding ? dynamicThreshold(x0, c.dynamic_thresholding_ratio, c.sample_max_value) : x0;
  }

  /** The sigma grid kind selected by the config keys. */
  protected gridKind(): SigmaGridKind {
    const c = this.config;
    if (c.use_karras_sigmas) return 'karras';
    if (c.use_lu_lambdas) return 'lu';
    if (c.use_exponential_sigmas) return 'exponential';
    if (c.use_beta_sigmas) return 'beta';
    return 'interp';
  }

  /**
   * buildSigmaGrid for this scheduler: the request's step count or custom timesteps, the config's sigma grid
   * kind, timestep_spacing and steps_offset, timesteps of Karras / Lu grids rounded; `extra` overrides.
   */
  protected buildGrid(
    req: { numInferenceSteps?: number; timesteps?: ArrayLike<number> },
    extra: Partial<SigmaGridRequest> = {},
  ): SigmaGrid {
    const c = this.config;
    return buildSigmaGrid({
      owner: this.className,
      alphasCumprod: this.alphasCumprod,
      numInferenceSteps: req.numInferenceSteps,
      customTimesteps: req.timesteps,
      spacing: c.timestep_spacing ?? 'linspace',
      stepsOffset: c.steps_offset ?? 0,
      kind: this.gridKind(),
      roundConverted: true,
      ...extra,
    });
  }

  /** Store a new grid and reset the per-run state. */
  protected setGrid(timesteps: Float64Array, sigmas: Float32Array): void {
    this.timesteps = timesteps;
    this.sigmas = sigmas;
    this.resetStepIndex();
  }

  /** Normalise setTimesteps' argument and reject what this family does not accept. */
  protected timestepsRequest(arg: number | SetTimestepsOptions): {
    numInferenceSteps?: number;
    timesteps?: ArrayLike<number>;
  } {
    const a: SetTimestepsOptions = typeof arg === 'number' ? { numInferenceSteps: arg } : (arg ?? {});
    if (a.sigmas !== undefined)
      throw new Error(
        `${this.className}.setTimesteps: custom sigmas are not supported by this scheduler; pass numInferenceSteps or timesteps`,
      );
    if ((a.numInferenceSteps === undefined) === (a.timesteps === undefined)) {
      throw new Error(`${this.className}.setTimesteps: pass exactly one of numInferenceSteps or timesteps`);
    }
    return a;
  }

  /**
   * Forward-noise clean samples onto the current grid: x_t = alpha_t x_0 + sigma_t noise with (alpha_t, sigma_t)
   * from the grid sigma at t (diffusers' add_noise: begin index / step index when set, else the position of t).
   * Before setTimesteps, t indexes the training table directly.
   * @example s.setTimesteps(10); const xt = s.addNoise(x0, noise, s.timesteps[5]);
   */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    let sig: number[];
    if (this.numInferenceSteps === null) {
      const T = this.alphasCumprod.length;
      sig = ts.map((t) => {
        if (!Number.isInteger(t) || t < 0 || t >= T)
          throw new Error(`${this.className}.addNoise: timestep ${t} must be an integer in [0, ${T - 1}]`);
        return this.sigmas[t];
      });
    } else {
      sig = this.noiseIndices(ts).map((i) => this.sigmas[i]);
    }
    const pts = sig.map(vpFromSigma);
    return mixPerSample(
      originalSamples,
      pts.map((p) => p.alpha),
      noise,
      pts.map((p) => p.sigma),
      `${this.className}.addNoise`,
    );
  }
}
