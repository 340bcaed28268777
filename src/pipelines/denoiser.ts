/**
 * A trained model as an asynchronous denoiser function (the ModelFn contract), backed by one
 * compiled ONNX Runtime session per run size. Weights are embedded in the graph as initializers
 * (ONNX Runtime can then pre-pack them), or fed as inputs when they change between calls
 * (sample previews with the EMA weights during training).
 *
 * A batch larger than the model's micro-batch (`sampleChunkSize` of its config: 256 MiB of estimated
 * activations, 33 images for unet-s) runs as near-equal micro-batches, one ONNX Runtime run each:
 * the models treat every item on its own, so the result is the same, and the smaller runs keep
 * their activations in the CPU's caches (unet-s, 256 images as 8 runs of 32: 1.03-1.09x wall / 1.09-1.10x
 * CPU time at 2 threads, 1.09x at 1 thread, peak RSS 706 -> 247 MiB; BENCHMARKS.md, lever micro-batch).
 *
 * @example
 *   const model = modelFromConfig(config);
 *   const denoise = denoiserFor(model, weights);
 *   const eps = await denoise(xt, t);
 */
import {
  NDArray,
  compile,
  trace,
  type Value,
  type InputSpec,
  type Executable,
  type SessionOptions,
} from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import type { DiffusionModel } from '../models/registry.ts';
import { estimateModelResources, sampleChunkSize } from '../models/resources.ts';
import type { AsyncModelFn } from './generate.ts';

/** Has the model a class embedding? */
export function isClassConditional(model: DiffusionModel): boolean {
  const n = (model.config as { num_class_embeds?: number | null }).num_class_embeds;
  return typeof n === 'number' && n > 0;
}

function inputSpecs(model: DiffusionModel, sampleShape: readonly number[], batch: number | string): InputSpec[] {
  const specs: InputSpec[] = [
    { name: 'sample', shape: [batch, ...sampleShape] },
    { name: 'timestep', shape: [batch] },
  ];
  if (isClassConditional(model)) specs.push({ name: 'class_labels', shape: [batch] });
  return specs;
}

/** The model's forward as a traced graph with the given weights embedded (the ONNX export graph). */
export function traceDenoiser(
  model: DiffusionModel,
  weights: Record<string, NDArray>,
  sampleShape: readonly number[],
  batch: number | string = 'batch',
) {
  return trace(
    (x: Value, t: Value, labels?: Value) => ({
      out_sample: withParams(model, weights, () => model.forward(x, t, labels)),
    }),
    inputSpecs(model, sampleShape, batch),
  );
}

/** Shape of one sample for the model (no batch axis). */
export function modelSampleShape(model: DiffusionModel): number[] {
  const c = model.config as unknown as Record<string, unknown>;
  if (typeof c.sample_size === 'number') return [c.in_channels as number, c.sample_size, c.sample_size];
  return [c.in_channels as number];
}

/** Options of `denoiserFor` / `denoiserWithWeightInputs`. */
export interface DenoiserOptions {
  /**
   * Most items per ONNX Runtime run; a larger batch is split into near-equal runs (see the file
   * comment). Default: `sampleChunkSize` of the model's config. `Infinity` runs any batch at once.
   */
  microBatch?: number;
  /** Session options of the compiled graphs (default: the process defaults, `setDefaultSessionOptions`). */
  session?: SessionOptions;
}

/**
 * Sizes of the runs that cover a batch of `n` items with at most `most` per run, as equal as
 * possible (so at most two sizes are compiled). @example microBatches(256, 33) // [32, 32, 32, 32, 32, 32, 32, 32]
 */
export function microBatches(n: number, most: number): number[] {
  if (!(most >= 1)) throw new Error(`microBatch must be at least 1 (got ${most})`);
  const runs = Math.max(1, Math.ceil(n / most));
  const base = Math.floor(n / runs);
  return Array.from({ length: runs }, (_, i) => base + (i < n % runs ? 1 : 0));
}

function microBatchOf(model: DiffusionModel, o: DenoiserOptions): number {
  return o.microBatch ?? sampleChunkSize(estimateModelResources(model.config));
}

/**
 * The denoiser over one compiled graph per run size: splits the batch (`microBatches`), feeds each
 * run its rows of the sample, timesteps and labels (views, no copies) plus the call's `extra` feeds
 * (the same for every run), and joins the outputs.
 */
function runInMicroBatches(
  model: DiffusionModel,
  most: number,
  compileFor: (batch: number, extra: Record<string, NDArray>) => Promise<Executable>,
  defaultLabels = false,
): (x: NDArray, t: Float32Array, labels?: Float32Array, extra?: Record<string, NDArray>) => Promise<NDArray> {
  const cache = new Map<number, Promise<Executable>>();
  const cond = isClassConditional(model);
  const exeFor = (b: number, extra: Record<string, NDArray>): Promise<Executable> => {
    let exe = cache.get(b);
    if (!exe) {
      exe = compileFor(b, extra);
      cache.set(b, exe);
    }
    return exe;
  };
  return async (x, t, labels, extra = {}) => {
    const B = x.shape[0];
    if (cond && !labels && !defaultLabels)
      throw new Error('denoiser: this model is class-conditional; pass class labels');
    if (t.length !== B) throw new Error(`denoiser: ${t.length} timesteps for a batch of ${B}; pass one per item`);
    const item = x.size / Math.max(B, 1);
    const sizes = microBatches(B, most);
    const feedsOf = (start: number, b: number): Record<string, NDArray> => {
      const feeds: Record<string, NDArray> = {
        sample: new NDArray([b, ...x.shape.slice(1)], x.data.subarray(start * item, (start + b) * item)),
        timestep: new NDArray([b], t.subarray(start, start + b)),
        ...extra,
      };
      if (cond) feeds.class_labels = new NDArray([b], labels ? labels.subarray(start, start + b) : new Float32Array(b));
      return feeds;
    };
    if (sizes.length === 1) return (await (await exeFor(B, extra)).run(feedsOf(0, B)))[0];
    let out: NDArray | undefined;
    let start = 0;
    for (const b of sizes) {
      const y = (await (await exeFor(b, extra)).run(feedsOf(start, b)))[0];
      const per = y.size / b;
      out ??= new NDArray([B, ...y.shape.slice(1)]);
      out.data.set(y.data, start * per);
      start += b;
    }
    return out as NDArray;
  };
}

/**
 * A denoiser with fixed weights (compiled once per run size; batches above the micro-batch run in
 * parts, see the file comment).
 */
export function denoiserFor(
  model: DiffusionModel,
  weights: Record<string, NDArray>,
  options: DenoiserOptions = {},
): AsyncModelFn {
  const shape = modelSampleShape(model);
  return runInMicroBatches(model, microBatchOf(model, options), (b) =>
    compile(traceDenoiser(model, weights, shape, b), options.session),
  );
}

/** A denoiser whose weights are inputs: pass the current weights at each call. */
export function denoiserWithWeightInputs(
  model: DiffusionModel,
  options: DenoiserOptions = {},
): (weights: Record<string, NDArray>) => AsyncModelFn {
  const shape = modelSampleShape(model);
  const names = model.namedParameters().map(([n]) => n);
  const cond = isClassConditional(model);
  const run = runInMicroBatches(
    model,
    microBatchOf(model, options),
    (b, feeds) => {
      const specs = [
        ...inputSpecs(model, shape, b),
        ...names.map((n) => ({ name: `p.${n}`, shape: feeds[`p.${n}`].shape })),
      ];
      return compile(
        trace((...xs: Value[]) => {
          const k = cond ? 3 : 2;
          const p = Object.fromEntries(names.map((n, i) => [n, xs[k + i]]));
          return withParams(model, p, () => model.forward(xs[0], xs[1], cond ? xs[2] : undefined));
        }, specs),
        options.session,
      );
    },
    true,
  );
  return (weights) => {
    const feeds = Object.fromEntries(names.map((n) => [`p.${n}`, weights[n]]));
    return (x, t, labels) => run(x, t, labels, feeds);
  };
}
