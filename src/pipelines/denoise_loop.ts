/**
 * The reverse loop over a given part of a scheduler's timesteps, with a hook before every model call:
 * the shared core of inpainting (replace the known region), image-to-image (start part-way) and
 * decoding inverted noise. `stepModel` binds class labels and classifier-free guidance (Ho & Salimans
 * 2022, eq. 6) to an AsyncModelFn, so every editing pipeline conditions the same way as `generate`.
 * No file system here (browser-safe).
 *
 * @example
 *   const f = stepModel(model, scheduler, { classLabels: labels, guidanceScale: 3, nullClass: 10 });
 *   scheduler.setTimesteps(50);
 *   const x0 = await denoiseFrom(f, scheduler, xT, scheduler.timesteps, { generator: new Philox(0) });
 */
import { NDArray, type RandomGenerator } from '../engine/index.ts';
import type { Scheduler } from '../samplers/scheduler.ts';
import { firstChannels, type AsyncModelFn } from './generate.ts';

/** Class conditioning of a model call (same meaning as in GenerateOptions). */
export interface ConditioningOptions {
  /** Class labels per sample (class-conditional models; pass the null class for unconditional predictions). */
  classLabels?: ArrayLike<number>;
  /** Classifier-free guidance weight w (1 = off); needs `nullClass` and `classLabels`. */
  guidanceScale?: number;
  /** The label the model was trained with for "no class" (label dropout). */
  nullClass?: number;
}

/** A model bound to its conditioning: the scheduler's model input and timestep in, prediction [B, C, ...] out. */
export type StepModelFn = (modelInput: NDArray, t: number) => Promise<NDArray>;

/**
 * Bind conditioning to a model: classifier-free guidance as one batched call over [cond; uncond],
 * learned-variance channels dropped unless the scheduler uses them.
 * @example const f = stepModel(model, scheduler, { classLabels: [3, 3], guidanceScale: 2, nullClass: 10 })
 */
export function stepModel(model: AsyncModelFn, scheduler: Scheduler, o: ConditioningOptions = {}): StepModelFn {
  const w = o.guidanceScale ?? 1;
  if (!(w >= 0)) throw new Error(`guidance scale must be >= 0, got ${w}`);
  if (w !== 1 && (o.nullClass === undefined || !o.classLabels)) {
    throw new Error('classifier-free guidance needs class labels and a model trained with label dropout (nullClass)');
  }
  const labels = o.classLabels ? Float32Array.from(o.classLabels) : undefined;
  const learned = ['learned', 'learned_range'].includes(String(scheduler.config.variance_type));
  return async (xin, t) => {
    const B = xin.shape[0],
      C = xin.shape[1];
    if (labels && labels.length !== B) throw new Error(`${labels.length} class labels for a batch of ${B}`);
    let out: NDArray;
    if (w !== 1) {
      const both = new NDArray([2 * B, ...xin.shape.slice(1)]);
      both.data.set(xin.data, 0);
      both.data.set(xin.data, xin.size);
      const lab = new Float32Array(2 * B);
      lab.set(labels!, 0);
      lab.fill(o.nullClass!, B);
      const y = await model(both, new Float32Array(2 * B).fill(t), lab);
      const half = y.size / 2;
      out = new NDArray([B, ...y.shape.slice(1)]);
      for (let i = 0; i < half; i++) out.data[i] = y.data[half + i] + w * (y.data[i] - y.data[half + i]);
    } else {
      out = await model(xin, new Float32Array(B).fill(t), labels);
    }
    if (out.shape[1] === 2 * C && !learned) out = firstChannels(out, C);
    return out;
  };
}

/** Options of `denoiseFrom`. */
export interface DenoiseLoopOptions {
  generator: RandomGenerator;
  /** DDIM eta and the like. */
  eta?: number;
  /** Called before each model call with the current sample; returns the sample to use (e.g. with the known region replaced). */
  beforeModel?: (x: NDArray, t: number, index: number) => NDArray;
  /** Called after every step. */
  onStep?: (info: { index: number; timestep: number; sample: NDArray; predOriginal?: NDArray }) => void;
}

/**
 * Run `scheduler.step` over `timesteps` (a tail of scheduler.timesteps) starting from x.
 * @example await denoiseFrom(f, s, x, s.timesteps.subarray(10), { generator })
 */
export async function denoiseFrom(
  f: StepModelFn,
  scheduler: Scheduler,
  x: NDArray,
  timesteps: ArrayLike<number>,
  o: DenoiseLoopOptions,
): Promise<NDArray> {
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (o.beforeModel) x = o.beforeModel(x, t, i);
    const out = await f(scheduler.scaleModelInput(x, t), t);
    const r = scheduler.step(out, t, x, { generator: o.generator, eta: o.eta });
    x = r.prevSample;
    o.onStep?.({ index: i, timestep: t, sample: x, predOriginal: r.predOriginalSample });
  }
  return x;
}
