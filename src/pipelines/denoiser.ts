/**
 * A trained model as an asynchronous denoiser function (the ModelFn contract), backed by one
 * compiled ONNX Runtime session per batch size. Weights are embedded in the graph as initializers
 * (ONNX Runtime can then pre-pack them), or fed as inputs when they change between calls
 * (sample previews with the EMA weights during training).
 *
 * @example
 *   const model = modelFromConfig(config);
 *   const denoise = denoiserFor(model, weights);
 *   const eps = await denoise(xt, t);
 */
import { NDArray, compile, trace, type Value, type InputSpec, type Executable } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import type { DiffusionModel } from '../models/registry.ts';
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

/** A denoiser with fixed weights (compiled once per batch size). */
export function denoiserFor(model: DiffusionModel, weights: Record<string, NDArray>): AsyncModelFn {
  const shape = modelSampleShape(model);
  const cache = new Map<number, Promise<Executable>>();
  const cond = isClassConditional(model);
  return async (x, t, labels) => {
    const B = x.shape[0];
    let exe = cache.get(B);
    if (!exe) {
      exe = compile(traceDenoiser(model, weights, shape, B));
      cache.set(B, exe);
    }
    const feeds: Record<string, NDArray> = { sample: x, timestep: new NDArray([B], t) };
    if (cond) {
      if (!labels) throw new Error('denoiser: this model is class-conditional; pass class labels');
      feeds.class_labels = new NDArray([B], labels);
    }
    return (await (await exe).run(feeds))[0];
  };
}

/** A denoiser whose weights are inputs: pass the current weights at each call. */
export function denoiserWithWeightInputs(model: DiffusionModel): (weights: Record<string, NDArray>) => AsyncModelFn {
  const shape = modelSampleShape(model);
  const names = model.namedParameters().map(([n]) => n);
  const cond = isClassConditional(model);
  const cache = new Map<number, Promise<Executable>>();
  return (weights) => async (x, t, labels) => {
    const B = x.shape[0];
    let exe = cache.get(B);
    if (!exe) {
      const specs = [
        ...inputSpecs(model, shape, B),
        ...names.map((n) => ({ name: `p.${n}`, shape: weights[n].shape })),
      ];
      exe = compile(
        trace((...xs: Value[]) => {
          const k = cond ? 3 : 2;
          const p = Object.fromEntries(names.map((n, i) => [n, xs[k + i]]));
          return withParams(model, p, () => model.forward(xs[0], xs[1], cond ? xs[2] : undefined));
        }, specs),
      );
      cache.set(B, exe);
    }
    const feeds: Record<string, NDArray> = { sample: x, timestep: new NDArray([B], t) };
    if (cond) feeds.class_labels = new NDArray([B], labels ?? new Float32Array(B));
    for (const n of names) feeds[`p.${n}`] = weights[n];
    return (await (await exe).run(feeds))[0];
  };
}
