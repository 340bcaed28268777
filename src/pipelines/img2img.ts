/**
 * Image-to-image / SDEdit (Meng et al. 2022, "SDEdit: Guided Image Synthesis and Editing with Stochastic
 * Differential Equations", sec. 3): noise an input to strength s in [0, 1] with the forward process and
 * denoise it from there with any scheduler. s = 0 returns the input, s = 1 is plain sampling (the input is
 * forgotten); in between, coarse structure survives and details are re-synthesised. The first timestep
 * follows diffusers' img2img pipelines: of n inference steps the last round(s * n) (floor, as diffusers' int())
 * are run, starting at timesteps[n - floor(s * n)]. Works for images and vector rows alike; no file system.
 *
 * @example
 *   const edited = await img2img(denoise, samplingScheduler('ddim', schedulerConfig), {
 *     image: strokes, strength: 0.6, steps: 50, generator: new Philox(0), classLabels: new Array(8).fill(10) });
 */
import type { NDArray, RandomGenerator } from '../engine/index.ts';
import { StepIndexScheduler, type Scheduler } from '../samplers/scheduler.ts';
import type { AsyncModelFn } from './generate.ts';
import { denoiseFrom, stepModel, type ConditioningOptions } from './denoise_loop.ts';

/** Options of `img2img`. */
export interface Img2ImgOptions extends ConditioningOptions {
  /** The input samples [B, ...] in model units (images in [-1, 1]). */
  image: NDArray;
  /** How much to change, in [0, 1]: the fraction of the noise schedule the input is pushed back up. */
  strength: number;
  /** Inference steps of the full schedule (about strength * steps are run). */
  steps: number;
  generator: RandomGenerator;
  eta?: number;
  onStep?: (info: { index: number; timestep: number; sample: NDArray; predOriginal?: NDArray }) => void;
}

/**
 * The timesteps img2img runs for a strength (diffusers' get_timesteps): the tail of scheduler.timesteps and
 * its start index. Call after setTimesteps. @example img2imgTimesteps(s, 50, 0.6).timesteps[0]
 */
export function img2imgTimesteps(
  scheduler: Scheduler,
  steps: number,
  strength: number,
): { timesteps: Float64Array; startIndex: number } {
  if (!(typeof strength === 'number' && strength >= 0 && strength <= 1))
    throw new Error(`--strength ${strength}: expected a number in [0, 1]`);
  const initTimestep = Math.min(Math.floor(steps * strength), steps);
  const tStart = Math.max(steps - initTimestep, 0);
  const startIndex = tStart * scheduler.order;
  return { timesteps: scheduler.timesteps.slice(startIndex), startIndex };
}

/**
 * SDEdit (see the module doc). Returns samples of the input's shape.
 * @example await img2img(model, scheduler, { image: x, strength: 0.5, steps: 50, generator: new Philox(1) })
 */
export async function img2img(model: AsyncModelFn, scheduler: Scheduler, o: Img2ImgOptions): Promise<NDArray> {
  if (!(Number.isInteger(o.steps) && o.steps >= 1))
    throw new Error(`img2img: steps = ${o.steps} must be a positive integer`);
  scheduler.setTimesteps(o.steps);
  const { timesteps, startIndex } = img2imgTimesteps(scheduler, o.steps, o.strength);
  if (timesteps.length === 0) return o.image.clone();
  if (scheduler instanceof StepIndexScheduler) scheduler.setBeginIndex(startIndex);
  const x = scheduler.addNoise(o.image, o.generator.normal(o.image.shape), [timesteps[0]]);
  return denoiseFrom(stepModel(model, scheduler, o), scheduler, x, timesteps, {
    generator: o.generator,
    eta: o.eta,
    onStep: o.onStep,
  });
}
