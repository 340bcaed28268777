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
 * array updates x_t = sum_k c_k a_k are accumulated in float64 and rounded once. The update formulas
 * themselves (and vpFromSigma, expIntCoefficients) are in dpm_solver_math.ts.
 *
 * @example
 *   // a subclass sets the grid, then reads sigma / alpha / lambda at the current step:
 *   const { alpha, sigma, lambda } = this.point(this.stepIndex!);
 */
import { NDArray } from '../engine/ndarray.ts';
import { dynamicThreshold } from '../diffusion/thresholding.ts';
import { mixPerSample } from '../diffusion/forward.ts';
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
import {
  dpmConvertModelOutput,
  dpmFirstOrder,
  expIntCoefficients,
  meanChannels,
  multistepOrder,
  vpFromSigma,
  type VpPoint,
} from './dpm_solver_math.ts';
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

  /** Order of multistep step i (see multistepOrder in dpm_solver_math.ts); keys a class lacks count as off. */
  protected multistepOrder(i: number): number {
    const c = this.config;
    return multistepOrder({
      i,
      steps: this.timesteps.length,
      solverOrder: c.solver_order,
      warm: this.lowerOrderNums,
      lowerOrderFinal: c.lower_order_final,
      eulerAtFinal: c.euler_at_final,
      finalSigmaZero: c.final_sigmas_type === 'zero',
    });
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
   * DPM-Solver's model-output conversion at the current grid point (dpmConvertModelOutput): x0 for the
   * data-prediction types, eps for the noise-prediction types, of the mean channels. (diffusers' singlestep
   * class reads alpha_t at a `timestep` it no longer passes here and fails; we threshold at the current grid
   * point like the multistep class.) UniPC and DEIS override this.
   */
  convertModelOutput(modelOutput: NDArray, sample: NDArray): { converted: NDArray; x0: NDArray } {
    const c = this.config;
    return dpmConvertModelOutput(this.meanChannels(modelOutput, sample), sample, this.point(this.stepIdx as number), {
      algorithm: c.algorithm_type ?? 'dpmsolver++',
      predictionType: c.prediction_type,
      threshold: c.thresholding ? [c.dynamic_thresholding_ratio, c.sample_max_value] : null,
    });
  }

  /**
   * First-order step from the current grid point s to the next one t (dpmFirstOrder with diffusers' float32
   * weights). `algorithm` defaults to the config's algorithm_type (DEIS passes 'dpmsolver').
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
    return dpmFirstOrder(sample, m0, expIntCoefficients(algorithm, t, s, f32(t.lambda - s.lambda)), noise);
  }

  /** Keep the first C channels of a [B, 2C, ...] output when the model also predicts variances. */
  protected meanChannels(modelOutput: NDArray, sample: NDArray): NDArray {
    return meanChannels(modelOutput, sample, this.config.variance_type, this.className);
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
