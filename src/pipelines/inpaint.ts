/**
 * Inpainting and imputation with any unconditional (or class-conditional) diffusion model: fill in the
 * entries of a sample where the known mask is 0, keep those where it is 1. Works for images [B, C, H, W]
 * and vector rows [B, D] alike (imputation of missing CSV columns = "known coordinates").
 *
 * - `inpaint` — the replacement method (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
 *   app. I.2; RePaint without resampling): before every model call the known region of x_t is replaced by
 *   a fresh forward-noised copy of the known values at t (scheduler.addNoise), so any scheduler works.
 * - `repaint` — RePaint (Lugmayr et al. 2022) with its resampling jumps, driving RePaintScheduler the way
 *   diffusers' RePaintPipeline does (model steps down, undo_step jumps back up).
 * - `noiseFill` — the baseline: the unknown region filled with N(0, 1) noise.
 * No file system here: the browser playground calls these directly.
 *
 * @example
 *   const mask = broadcastMask(rectangleMask([1, 28, 28], 'lower-half'), digits.shape);
 *   const out = await inpaint(denoise, samplingScheduler('ddpm', schedulerConfig), {
 *     known: digits, mask, steps: 50, generator: new Philox(0), classLabels: new Array(16).fill(10) });
 */
import { type NDArray, sameShape, type RandomGenerator } from '../engine/index.ts';
import type { BaseSchedulerConfig, Scheduler } from '../samplers/scheduler.ts';
import type { RePaintScheduler } from '../samplers/repaint.ts';
import type { AsyncModelFn } from './generate.ts';
import { denoiseFrom, stepModel, type ConditioningOptions } from './denoise_loop.ts';
import { broadcastMask, mergeKnown } from './mask.ts';

/** Options of `inpaint` (and, with the jump settings, of `repaint`). */
export interface InpaintOptions extends ConditioningOptions {
  /** The samples whose known entries are kept, [B, ...] in model units (images in [-1, 1]); unknown entries are ignored. */
  known: NDArray;
  /** Known mask: 1 = keep, 0 = fill in; the batch's shape [B, ...] or one sample's shape (used for every row). */
  mask: NDArray;
  /** Inference steps. */
  steps: number;
  generator: RandomGenerator;
  /** DDIM / RePaint eta. */
  eta?: number;
  /** Start from this noise instead of drawing it (shape of `known`). */
  initialNoise?: NDArray;
  /** Called after every model step with the new sample. */
  onStep?: (info: { index: number; timestep: number; sample: NDArray; predOriginal?: NDArray }) => void;
}

function prepare(o: InpaintOptions, who: string): { mask: NDArray; x: NDArray; known: NDArray } {
  if (!(Number.isInteger(o.steps) && o.steps >= 1))
    throw new Error(`${who}: steps = ${o.steps} must be a positive integer`);
  const mask = broadcastMask(o.mask, o.known.shape);
  for (const v of mask.data)
    if (v !== 0 && v !== 1) throw new Error(`${who}: mask values must be 0 (fill in) or 1 (known), got ${v}`);
  if (o.initialNoise && !sameShape(o.initialNoise.shape, o.known.shape))
    throw new Error(`${who}: initialNoise has shape [${o.initialNoise.shape}], expected [${o.known.shape}]`);
  // unknown entries may hold anything (NaN for missing CSV cells): zero them
  const known = o.known.map((v, i) => (mask.data[i] === 1 ? v : 0));
  for (let i = 0; i < known.size; i++)
    if (!Number.isFinite(known.data[i]))
      throw new Error(`${who}: known value at flat index ${i} is ${known.data[i]}; known entries must be finite`);
  return { mask, known, x: o.initialNoise ? o.initialNoise.clone() : o.generator.normal(o.known.shape) };
}

/**
 * Replacement-method inpainting with any scheduler (see the module doc). Returns [B, ...] with the known
 * entries equal to `known` and the others sampled.
 * @example await inpaint(model, scheduler, { known: x, mask: knownCoordinatesMask(2, [0]), steps: 100, generator })
 */
export async function inpaint(model: AsyncModelFn, scheduler: Scheduler, o: InpaintOptions): Promise<NDArray> {
  const p = prepare(o, 'inpaint');
  const { mask, known } = p;
  let x = p.x;
  scheduler.setTimesteps(o.steps);
  x = x.mulScalar(scheduler.initNoiseSigma);
  const f = stepModel(model, scheduler, o);
  x = await denoiseFrom(f, scheduler, x, scheduler.timesteps, {
    generator: o.generator,
    eta: o.eta,
    onStep: o.onStep,
    beforeModel: (xt, t) => mergeKnown(mask, scheduler.addNoise(known, o.generator.normal(known.shape), [t]), xt),
  });
  return mergeKnown(mask, known, x);
}

/** Options of `repaint`: inpainting options plus RePaint's resampling jumps. */
export interface RePaintOptions extends InpaintOptions {
  /** Steps per jump back up in time ("j"; diffusers' default 10). */
  jumpLength?: number;
  /** Resamplings per jump point ("r"; default 10; 1 = no resampling). */
  jumpNSample?: number;
}

/**
 * RePaint inpainting (diffusers' RePaintPipeline loop): model steps on the way down, `undoStep`
 * forward jumps back up. The model must predict epsilon. Cost: about steps * jumpNSample model calls.
 * @example await repaint(model, RePaintScheduler.fromConfig(cfg), { known, mask, steps: 50, jumpLength: 10, jumpNSample: 10, generator })
 */
export async function repaint(model: AsyncModelFn, scheduler: RePaintScheduler, o: RePaintOptions): Promise<NDArray> {
  const p = prepare(o, 'repaint');
  const { mask, known } = p;
  let x = p.x;
  if (scheduler.className !== 'RePaintScheduler' || typeof scheduler.undoStep !== 'function')
    throw new Error(`repaint: needs a RePaintScheduler, got ${scheduler.className}`);
  const config: BaseSchedulerConfig = scheduler.config; // RePaint's own keys have no prediction_type
  const pt = config.prediction_type;
  if (pt !== undefined && pt !== 'epsilon')
    throw new Error(`repaint: the model must predict epsilon (prediction_type = ${pt})`);
  scheduler.setTimesteps({
    numInferenceSteps: o.steps,
    jumpLength: o.jumpLength ?? 10,
    jumpNSample: o.jumpNSample ?? 10,
  });
  if (o.eta !== undefined) scheduler.eta = o.eta;
  const f = stepModel(model, scheduler, o);
  const ts = scheduler.timesteps;
  let tLast = ts[0] + 1;
  let index = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    if (t < tLast) {
      const r = scheduler.step(await f(x, t), t, x, { originalSample: known, mask, generator: o.generator } as never);
      x = r.prevSample;
      o.onStep?.({ index: index++, timestep: t, sample: x, predOriginal: r.predOriginalSample });
    } else {
      x = scheduler.undoStep(x, tLast, o.generator);
    }
    tLast = t;
  }
  return mergeKnown(mask, known, x);
}

/**
 * The noise-fill baseline: unknown entries replaced by N(0, 1) draws (what a model that ignores the context
 * at the last step would give). @example noiseFill(known, mask, new Philox(0))
 */
export function noiseFill(known: NDArray, mask: NDArray, generator: RandomGenerator): NDArray {
  return mergeKnown(broadcastMask(mask, known.shape), known, generator.normal(known.shape));
}

/** Mean squared error over the entries where mask = 0 (the filled-in region). @example maskedMse(out, truth, mask) */
export function maskedMse(a: NDArray, b: NDArray, mask: NDArray): number {
  const m = broadcastMask(mask, a.shape);
  let s = 0,
    n = 0;
  for (let i = 0; i < a.size; i++)
    if (m.data[i] === 0) {
      const d = a.data[i] - b.data[i];
      s += d * d;
      n++;
    }
  return n ? s / n : 0;
}
