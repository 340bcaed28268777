/**
 * The denoising loop (diffusers' pipeline __call__): pure noise -> samples, with any Scheduler,
 * optional classifier-free guidance (Ho & Salimans 2022, eq. 6), and a hook that sees every step
 * (for trajectory GIFs and x0-prediction views).
 *
 * The model is asynchronous (ONNX Runtime runs are), so the loop drives the Scheduler classes,
 * which never call the model themselves.
 *
 * @example
 *   const scheduler = schedulerFromConfig('DDIMScheduler', ckpt.schedulerConfig);
 *   const x = await generate(model, scheduler, { shape: [16, 1, 28, 28], steps: 50, generator: new Philox(0) });
 */
import { NDArray, type RandomGenerator } from '../engine/index.ts';
import type { Scheduler } from '../samplers/scheduler.ts';

/** A denoiser: x_t [B, ...], timesteps [B] (and optional class labels [B]) -> prediction [B, C', ...]. */
export type AsyncModelFn = (x: NDArray, t: Float32Array, classLabels?: Float32Array) => Promise<NDArray>;

export interface GenerateOptions {
  shape: readonly number[];
  steps: number;
  generator: RandomGenerator;
  /** Class labels per sample (class-conditional models). */
  classLabels?: ArrayLike<number>;
  /** Classifier-free guidance weight w (1 = off); needs `nullClass`. */
  guidanceScale?: number;
  /** The label the model was trained with for "no class" (label dropout). */
  nullClass?: number;
  /** DDIM eta and other step options. */
  eta?: number;
  /** Called after every step with the new sample and the predicted x0 (when the scheduler gives one). */
  onStep?: (info: { index: number; timestep: number; sample: NDArray; predOriginal?: NDArray }) => void;
  /** Start from this noise instead of drawing it. */
  initialNoise?: NDArray;
  /**
   * Custom descending timesteps instead of `steps` (diffusers' `timesteps=` argument), e.g. a consistency model's
   * training-grid indices [12, 8, 3, 0]; schedulers without custom timesteps refuse them with a one-line error.
   */
  timesteps?: readonly number[];
}

export async function generate(model: AsyncModelFn, scheduler: Scheduler, o: GenerateOptions): Promise<NDArray> {
  const B = o.shape[0];
  const w = o.guidanceScale ?? 1;
  if (!(w >= 0)) throw new Error(`generate: guidance scale must be >= 0, got ${w}`);
  if (o.classLabels && o.classLabels.length !== B)
    throw new Error(`generate: ${o.classLabels.length} class labels for a batch of ${B}`);
  if (w !== 1 && (o.nullClass === undefined || !o.classLabels)) {
    throw new Error(
      'generate: classifier-free guidance needs class labels and a model trained with label dropout (nullClass)',
    );
  }
  scheduler.setTimesteps(o.timesteps ? { timesteps: o.timesteps } : o.steps);
  let x = o.initialNoise ? o.initialNoise.clone() : o.generator.normal(o.shape);
  if (o.initialNoise && o.initialNoise.shape.join() !== o.shape.join())
    throw new Error(`generate: initial noise shape [${o.initialNoise.shape}] differs from [${o.shape}]`);
  x = x.mulScalar(scheduler.initNoiseSigma);
  const C = o.shape[1];
  const labels = o.classLabels ? Float32Array.from(o.classLabels) : undefined;
  let index = 0;
  for (const t of scheduler.timesteps) {
    const xin = scheduler.scaleModelInput(x, t);
    let out: NDArray;
    if (w !== 1) {
      // One batched run over [conditional; unconditional] inputs.
      const both = new NDArray([2 * B, ...xin.shape.slice(1)]);
      both.data.set(xin.data, 0);
      both.data.set(xin.data, xin.size);
      const lab = new Float32Array(2 * B);
      lab.set(labels!, 0);
      lab.fill(o.nullClass!, B);
      const y = await model(both, new Float32Array(2 * B).fill(t), lab);
      const half = y.size / 2;
      const cond = y.data.subarray(0, half),
        unc = y.data.subarray(half);
      out = new NDArray([B, ...y.shape.slice(1)]);
      for (let i = 0; i < half; i++) out.data[i] = unc[i] + w * (cond[i] - unc[i]);
    } else {
      out = await model(xin, new Float32Array(B).fill(t), labels);
    }
    // Learned-variance models output 2C channels; only DDPM with learned/learned_range uses the rest.
    const learned = ['learned', 'learned_range'].includes(String(scheduler.config.variance_type));
    if (out.shape[1] === 2 * C && !learned) out = firstChannels(out, C);
    const r = scheduler.step(out, t, x, { generator: o.generator, eta: o.eta });
    x = r.prevSample;
    o.onStep?.({ index, timestep: t, sample: x, predOriginal: r.predOriginalSample });
    index++;
  }
  return x;
}

/** The first `c` channels of x [B, C', ...]. */
export function firstChannels(x: NDArray, c: number): NDArray {
  const B = x.shape[0],
    C2 = x.shape[1];
  const inner = x.size / (B * C2);
  const out = new NDArray([B, c, ...x.shape.slice(2)]);
  for (let b = 0; b < B; b++) out.data.set(x.data.subarray(b * C2 * inner, b * C2 * inner + c * inner), b * c * inner);
  return out;
}
