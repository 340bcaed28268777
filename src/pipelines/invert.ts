/**
 * DDIM inversion (Song et al. 2021, sec. 4.3; diffusers' DDIMInverseScheduler): run the deterministic
 * DDIM ODE from data up to noise, and decode noise back with DDIM (eta = 0). Decoding the inverted noise
 * reconstructs the input up to the discretisation error of the ODE (reported by `reconstructionMse`);
 * inverted noises are latents to edit or interpolate (see interpolate.ts). Both directions use the model's
 * training schedule with 'leading' spacing and no clipping (clipping x0 breaks invertibility), so the
 * inversion ends at the level where decoding starts. A model of another formulation (EDM, consistency) runs on
 * diffusers' default beta table through `adaptModelToScheduler` (pipelines/formulation.ts). No file system here.
 *
 * @example
 *   const z = await ddimInvert(denoise, schedulerConfig, digits, { steps: 50, classLabels });
 *   const back = await ddimDecode(denoise, schedulerConfig, z, { steps: 50, classLabels });
 */
import type { NDArray } from '../engine/index.ts';
import type { DDIMInverseScheduler } from '../samplers/ddim_inverse.ts';
import type { DDIMScheduler } from '../samplers/ddim.ts';
import { schedulerWithOverrides } from './scheduler_choice.ts';
import { adaptModelToScheduler, vpSchedulerConfig } from './formulation.ts';
import type { AsyncModelFn } from './generate.ts';
import { stepModel, type ConditioningOptions } from './denoise_loop.ts';

/** Options of `ddimInvert` / `ddimDecode`. */
export interface InversionOptions extends ConditioningOptions {
  /** DDIM steps (the same number both ways). */
  steps: number;
  /** Called after every step. */
  onStep?: (info: { index: number; timestep: number; sample: NDArray }) => void;
}

const PAIR_OVERRIDES = { clip_sample: false, set_alpha_to_one: true, timestep_spacing: 'leading', steps_offset: 0 };

/**
 * The inverse and forward DDIM schedulers for a model's training schedule (an EDM or consistency model: diffusers'
 * default table, VP_TABLE_FOR_NON_VP_MODELS). @example inversionSchedulers(cfg)
 */
export function inversionSchedulers(trainingConfig: Record<string, unknown>): {
  inverse: DDIMInverseScheduler;
  ddim: DDIMScheduler;
} {
  return {
    inverse: schedulerWithOverrides(
      'DDIMInverseScheduler',
      vpSchedulerConfig(trainingConfig),
      PAIR_OVERRIDES,
    ) as DDIMInverseScheduler,
    ddim: schedulerWithOverrides('DDIMScheduler', vpSchedulerConfig(trainingConfig), PAIR_OVERRIDES) as DDIMScheduler,
  };
}

function checkSteps(steps: number, who: string): void {
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`${who}: steps = ${steps} must be a positive integer`);
}

/**
 * Data -> noise with DDIMInverseScheduler (model evaluated at each inverse timestep, as diffusers' inversion pipelines do).
 * `model` is the network of a model trained with `trainingConfig` (any formulation; see the file comment).
 * @example const z = await ddimInvert(model, cfg, x0, { steps: 50 })
 */
export async function ddimInvert(
  model: AsyncModelFn,
  trainingConfig: Record<string, unknown>,
  x0: NDArray,
  o: InversionOptions,
): Promise<NDArray> {
  checkSteps(o.steps, 'ddimInvert');
  const { inverse } = inversionSchedulers(trainingConfig);
  inverse.setTimesteps(o.steps);
  const f = stepModel(adaptModelToScheduler(model, trainingConfig, inverse), inverse, o);
  let x = x0;
  let i = 0;
  for (const t of inverse.timesteps) {
    x = inverse.step(await f(x, t), t, x).prevSample;
    o.onStep?.({ index: i++, timestep: t, sample: x });
  }
  return x;
}

/**
 * Noise (from ddimInvert) -> data with deterministic DDIM (eta = 0) on the same grid.
 * @example const x = await ddimDecode(model, cfg, z, { steps: 50 })
 */
export async function ddimDecode(
  model: AsyncModelFn,
  trainingConfig: Record<string, unknown>,
  xT: NDArray,
  o: InversionOptions,
): Promise<NDArray> {
  checkSteps(o.steps, 'ddimDecode');
  const { ddim } = inversionSchedulers(trainingConfig);
  ddim.setTimesteps(o.steps);
  const f = stepModel(adaptModelToScheduler(model, trainingConfig, ddim), ddim, o);
  let x = xT;
  let i = 0;
  for (const t of ddim.timesteps) {
    x = ddim.step(await f(x, t), t, x, { eta: 0 }).prevSample;
    o.onStep?.({ index: i++, timestep: t, sample: x });
  }
  return x;
}

/** Mean squared error between two arrays of the same size. @example reconstructionMse(x0, back) */
export function reconstructionMse(a: NDArray, b: NDArray): number {
  if (a.size !== b.size) throw new Error(`reconstructionMse: sizes ${a.size} and ${b.size} differ`);
  let s = 0;
  for (let i = 0; i < a.size; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.size;
}
