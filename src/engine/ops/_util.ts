/** Shape helpers shared by the op definitions. */
import { broadcastShapes, formatShape, type DType, type Shape, type Value } from '../graph.ts';

/** Elementwise op with numpy broadcasting. */
export function inferBroadcast(inputs: Value[]): { shape: Shape; dtype: DType }[] {
  let shape: Shape = inputs[0].shape;
  for (const v of inputs.slice(1)) {
    const s = broadcastShapes(shape, v.shape);
    if (!s) throw new Error(`shapes [${formatShape(shape)}] and [${formatShape(v.shape)}] do not broadcast`);
    shape = s;
  }
  const dtype = inputs[0].dtype;
  for (const v of inputs) if (v.dtype !== dtype) throw new Error(`dtypes ${dtype} and ${v.dtype} differ`);
  return [{ shape, dtype }];
}

/** Elementwise op with one float input. */
export function inferUnary(inputs: Value[]): { shape: Shape; dtype: DType }[] {
  if (inputs.length !== 1) throw new Error(`expected 1 input, got ${inputs.length}`);
  if (inputs[0].dtype !== 'float32') throw new Error(`expected a float32 input, got ${inputs[0].dtype}`);
  return [{ shape: inputs[0].shape, dtype: 'float32' }];
}
