/**
 * Sample a loaded model while counting the model evaluations (NFE): the number of batched network
 * calls the denoising loop really makes. It equals the step count for one-evaluation-per-step samplers
 * (DDPM, DDIM, DPM-Solver++ multistep, UniPC) and differs for Heun and KDPM2 (two per step but the last)
 * — counting the calls, not the steps, is what makes samplers comparable at equal cost.
 *
 * Same conventions as `diffuse sample` (src/pipelines/sample_model.ts `sampleLoaded`): the scheduler is
 * built on the model's training config, clip_sample for images, class-conditional models get labels
 * cycling through the classes.
 *
 * @example
 *   const r = await sampleCounted(loaded, { scheduler: 'heun', steps: 20, n: 1000, seed: 0 });
 *   r.nfe;      // 39
 */
import { type NDArray, Philox } from '../../engine/index.ts';
import { generate, type AsyncModelFn } from '../../pipelines/generate.ts';
import { denoiserFor, isClassConditional, modelSampleShape } from '../../pipelines/denoiser.ts';
import { adaptModelToScheduler } from '../../pipelines/formulation.ts';
import { samplingScheduler, type LoadedModel } from '../../pipelines/sample_model.ts';
import { checkEtaSupported } from '../../pipelines/sample_checks.ts';

export interface CountedSampleOptions {
  /** Sampler alias or diffusers class name (see SCHEDULER_ALIASES). */
  scheduler: string;
  steps: number;
  /** Custom descending timesteps (replace `steps`; see GenerateOptions.timesteps). */
  timesteps?: readonly number[];
  n: number;
  seed: number;
  eta?: number;
}

export interface CountedSamples {
  samples: NDArray;
  /** Network evaluations (batched calls) of the whole loop. */
  nfe: number;
  /** Class label of each sample (class-conditional models). */
  labels?: Float32Array;
  seconds: number;
}

/** A model function that counts its calls. @example const { fn, count } = countingModel(model); */
export function countingModel(model: AsyncModelFn): { fn: AsyncModelFn; count: () => number } {
  let calls = 0;
  return {
    fn: (x, t, labels) => {
      calls++;
      return model(x, t, labels);
    },
    count: () => calls,
  };
}

/** Whether the loaded model produces images ([C, H, W] samples). */
export function isImageModel(m: LoadedModel): boolean {
  return m.info ? m.info.data.kind === 'images' : 'sample_size' in (m.model.config as object);
}

const denoisers = new WeakMap<LoadedModel, AsyncModelFn>();

/**
 * Draw n samples with the given sampler and count the model evaluations (see the module doc).
 * @example const { samples, nfe } = await sampleCounted(loaded, { scheduler: 'ddpm', steps: 1000, n: 2000, seed: 1 });
 */
export async function sampleCounted(m: LoadedModel, o: CountedSampleOptions): Promise<CountedSamples> {
  if (!(Number.isInteger(o.n) && o.n >= 1)) throw new Error(`--n: expected a positive integer, got ${o.n}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 1))
    throw new Error(`--steps: expected positive integers, got ${o.steps}`);
  const image = isImageModel(m);
  const sched = samplingScheduler(o.scheduler, m.schedulerConfig, {
    clip_sample: image && m.schedulerConfig.clip_sample !== false,
  });
  checkEtaSupported(sched, o.eta);
  let base = denoisers.get(m);
  if (!base) {
    base = denoiserFor(m.model, m.weights);
    denoisers.set(m, base);
  }
  // EDM / VP models with any scheduler (pipelines/formulation.ts); the identity when the formulations agree
  const { fn, count } = countingModel(adaptModelToScheduler(base, m.schedulerConfig, sched));
  let labels: Float32Array | undefined;
  if (isClassConditional(m.model)) {
    const k = m.info?.data.numClasses ?? null;
    labels = Float32Array.from({ length: o.n }, (_, i) => (k ? i % k : 0));
  }
  const t0 = performance.now();
  const samples = await generate(fn, sched, {
    shape: [o.n, ...modelSampleShape(m.model)],
    steps: o.steps,
    timesteps: o.timesteps,
    generator: new Philox(o.seed),
    classLabels: labels,
    eta: o.eta,
  });
  return { samples, nfe: count(), labels, seconds: (performance.now() - t0) / 1000 };
}
