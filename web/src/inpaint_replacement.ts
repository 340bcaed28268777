/**
 * Inpainting by replacement (Song et al. 2021, "Score-Based Generative Modeling through SDEs", app. I.2;
 * the baseline of Lugmayr et al. 2022, RePaint): run the ordinary reverse process, and after every
 * step overwrite the known pixels of x_{t'} with the known image noised to the same time,
 * x_{t'} = √ᾱ_{t'} x_0 + √(1−ᾱ_{t'}) ε (fresh ε, the toolkit's addNoise); after the last step the
 * known pixels are x_0 itself. Only the unknown pixels are generated, conditioned on the rest.
 *
 * A thin web-side helper over the toolkit's `generate()` (its onStep hook) and `addNoise()`: the
 * library's own inpainting API (src/pipelines/inpaint.ts) was not available when this was written.
 * Variance-preserving schedulers only (DDIM here): their x_t is in the frame addNoise produces.
 */
import { NDArray, Philox, addNoise, generate, type AsyncModelFn, type DDIMScheduler } from './lib.ts';

export interface ReplacementOptions {
  /** The image [1, 1, H, W] in [-1, 1]; only its known pixels are used. */
  image: NDArray;
  /** 1 where the pixel is known, 0 where the model fills it in; same shape as `image`. */
  known: NDArray;
  steps: number;
  seed: number;
  classLabel?: number;
  guidanceScale?: number;
  nullClass?: number;
  onStep?: (done: number, total: number) => void;
}

export interface ReplacementRun { x: NDArray; xt: NDArray[]; x0: (NDArray | null)[]; timesteps: number[]; nfe: number; seconds: number }

/** Complete the unknown pixels of `image` (see the module doc). */
export async function inpaintReplacement(model: AsyncModelFn, scheduler: DDIMScheduler, o: ReplacementOptions): Promise<ReplacementRun> {
  if (o.image.shape.join() !== o.known.shape.join()) throw new Error(`inpaint: mask shape [${o.known.shape}] differs from image shape [${o.image.shape}]`);
  const shape = [...o.image.shape];
  const abar = scheduler.alphasCumprod;
  const noiseRng = new Philox(o.seed + 7_919);
  const run: ReplacementRun = { x: o.image, xt: [], x0: [], timesteps: [], nfe: 0, seconds: 0 };
  const t0 = performance.now();
  const replace = (x: NDArray, known: NDArray) => {
    for (let i = 0; i < x.size; i++) if (o.known.data[i] > 0.5) x.data[i] = known.data[i];
  };
  scheduler.setTimesteps(o.steps);
  const ts = Array.from(scheduler.timesteps, Number);
  const initialNoise = new Philox(o.seed).normal(shape);
  replace(initialNoise, addNoise(o.image, noiseRng.normal(shape), abar, ts[0]));
  const counted: AsyncModelFn = (x, t, c) => { run.nfe++; return model(x, t, c); };
  const labels = o.classLabel === undefined ? undefined : [o.classLabel];
  run.x = await generate(counted, scheduler, {
    shape, steps: o.steps, generator: new Philox(o.seed + 1_000_003), initialNoise,
    classLabels: labels, guidanceScale: o.guidanceScale ?? 1, nullClass: o.nullClass,
    onStep: ({ index, timestep, sample, predOriginal }) => {
      // `sample` is the loop's x_{t'}: replaced in place, the next step starts from it.
      const next = ts[index + 1];
      replace(sample, next === undefined ? o.image : addNoise(o.image, noiseRng.normal(shape), abar, next));
      run.xt.push(sample.clone());
      run.x0.push(predOriginal ? predOriginal.clone() : null);
      run.timesteps.push(timestep);
      o.onStep?.(index + 1, ts.length);
    },
  });
  run.seconds = (performance.now() - t0) / 1000;
  return run;
}
