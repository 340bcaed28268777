/**
 * Inference timestep grids: which of the T training timesteps a sampler visits.
 *
 * The three spacings are those of Lin et al. (2024), "Common Diffusion Noise Schedules and Sample
 * Steps are Flawed", Table 2: 'linspace' (iDDPM), 'leading' (DDIM, Stable Diffusion) and 'trailing'
 * (recommended there). Values are computed in float64 like NumPy and returned in descending order.
 *
 * @example
 *   spacedTimesteps({ numTrainTimesteps: 1000, numInferenceSteps: 10, spacing: 'leading', stepsOffset: 1 });
 *   // [901, 801, ..., 1]
 *   spacedTimesteps({ numTrainTimesteps: 1000, numInferenceSteps: 10, spacing: 'trailing' });
 *   // [999, 899, ..., 99]
 */
import { npArange, npLinspace, roundHalfEven } from './numerics.ts';

/** Names accepted for `timestep_spacing`. */
export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];

export interface SpacingOptions {
  numTrainTimesteps: number;
  numInferenceSteps: number;
  spacing: string;
  /** Added to 'leading' timesteps (diffusers' `steps_offset`; Stable Diffusion uses 1). */
  stepsOffset?: number;
  /**
   * Round 'linspace' values to integers (round half to even, like `np.round`). Schedulers with
   * integer timesteps (DDPM, DDIM, PNDM) round; sigma-based ones (Euler, Heun, ...) keep fractions.
   * 'leading' and 'trailing' are always integers.
   */
  integer?: boolean;
  /** Who is asking, for error messages. */
  owner?: string;
}

/** Throws a clear error unless `n` is a valid number of inference steps for T training steps. */
export function checkNumInferenceSteps(
  n: unknown,
  numTrainTimesteps: number,
  owner = 'setTimesteps',
  allowMoreThanTrain = false,
): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`${owner}: num_inference_steps = ${JSON.stringify(n)} must be a positive integer`);
  }
  if (!allowMoreThanTrain && n > numTrainTimesteps) {
    throw new Error(
      `${owner}: num_inference_steps = ${n} cannot be larger than num_train_timesteps = ${numTrainTimesteps} (the model was trained on ${numTrainTimesteps} timesteps); use at most ${numTrainTimesteps} steps`,
    );
  }
}

/** Error for an unknown `timestep_spacing`. */
export function badSpacing(spacing: unknown, owner = 'timestep_spacing'): Error {
  return new Error(
    `${owner}: timestep_spacing = ${JSON.stringify(spacing)} is not supported; allowed values: ${TIMESTEP_SPACINGS.map((s) => `'${s}'`).join(', ')}`,
  );
}

/**
 * Descending timesteps for `numInferenceSteps` steps with the given spacing (Lin et al. 2024, Table 2):
 * - linspace: linspace(0, T - 1, n), reversed (rounded when `integer`);
 * - leading:  (0, 1, ..., n-1) * floor(T / n), reversed, + steps_offset;
 * - trailing: round(arange(T, 0, -T / n)) - 1.
 * @example spacedTimesteps({ numTrainTimesteps: 1000, numInferenceSteps: 4, spacing: 'linspace', integer: true }) // [999, 666, 333, 0]
 */
export function spacedTimesteps(opts: SpacingOptions): Float64Array {
  const {
    numTrainTimesteps: T,
    numInferenceSteps: n,
    spacing,
    stepsOffset = 0,
    integer = false,
    owner = 'setTimesteps',
  } = opts;
  if (spacing === 'linspace') {
    const ts = npLinspace(0, T - 1, n).reverse();
    if (integer) for (let i = 0; i < ts.length; i++) ts[i] = roundHalfEven(ts[i]);
    return ts;
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    if (ratio < 1)
      throw new Error(
        `${owner}: timestep_spacing 'leading' needs num_inference_steps <= num_train_timesteps, got ${n} > ${T}`,
      );
    const ts = new Float64Array(n);
    for (let i = 0; i < n; i++) ts[i] = (n - 1 - i) * ratio + stepsOffset;
    return ts;
  }
  if (spacing === 'trailing') {
    const ts = npArange(T, 0, -T / n);
    for (let i = 0; i < ts.length; i++) ts[i] = roundHalfEven(ts[i]) - 1;
    return ts;
  }
  throw badSpacing(spacing, owner);
}

/**
 * Validate user-given timesteps (diffusers' `set_timesteps(timesteps=[...])`): strictly descending,
 * each in [0, T). Returns them as a Float64Array.
 * @example customTimesteps([999, 500, 10], 1000)
 */
export function customTimesteps(
  timesteps: ArrayLike<number>,
  numTrainTimesteps: number,
  owner = 'setTimesteps',
  integer = true,
): Float64Array {
  const ts = Float64Array.from(timesteps);
  if (ts.length === 0) throw new Error(`${owner}: custom timesteps must not be empty`);
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    if (!Number.isFinite(t) || (integer && !Number.isInteger(t)))
      throw new Error(`${owner}: custom timesteps[${i}] = ${t} must be ${integer ? 'an integer' : 'a finite number'}`);
    if (i > 0 && t >= ts[i - 1])
      throw new Error(
        `${owner}: custom timesteps must be in descending order, but timesteps[${i - 1}] = ${ts[i - 1]} <= timesteps[${i}] = ${t}`,
      );
  }
  if (ts[0] >= numTrainTimesteps)
    throw new Error(
      `${owner}: custom timesteps must start before num_train_timesteps = ${numTrainTimesteps}, got timesteps[0] = ${ts[0]}`,
    );
  if (ts[ts.length - 1] < 0) throw new Error(`${owner}: custom timesteps must be >= 0, got ${ts[ts.length - 1]}`);
  return ts;
}
