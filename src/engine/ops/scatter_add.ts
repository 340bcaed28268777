/**
 * scatterAdd: out = data, then out[indices[j...], ...] += updates[j..., ...] along axis 0, with
 * repeated indices accumulating (ONNX ScatterND with reduction 'add', opset 18, on indices with a
 * trailing axis of 1; torch's index_add_ along dim 0). The VJP of `gather`.
 * VJP: d data = g, d updates = gather(g, indices, 0); indices get none.
 *
 * @example
 *   const counts = scatterAdd(zeros10, labels, ones);   // histogram of int64 labels in [0, 10)
 */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import { gather } from './gather.ts';

registerOp({
  name: 'scatter_add',
  infer([data, indices, updates]) {
    if (indices.dtype !== 'int64') throw new Error(`indices must be int64, got ${indices.dtype}`);
    if (data.rank < 1) throw new Error('data must have rank >= 1');
    if (updates.dtype !== data.dtype)
      throw new Error(`updates dtype ${updates.dtype} differs from data dtype ${data.dtype}`);
    const expected = [...indices.shape, ...data.shape.slice(1)];
    if (updates.rank !== expected.length || updates.shape.some((d, i) => d !== expected[i])) {
      throw new Error(
        `updates must have shape indices.shape + data.shape[1:] = [${formatShape(expected)}], got [${formatShape(updates.shape)}]`,
      );
    }
    return [{ shape: data.shape, dtype: data.dtype }];
  },
  lower(ctx, node) {
    const [data, indices, updates] = node.inputs;
    const [idx] = ctx.emit('Unsqueeze', [ctx.name(indices), ctx.constInt64([-1])]);
    ctx.emit('ScatterND', [ctx.name(data), idx, ctx.name(updates)], { reduction: 'add' }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null, null, null];
    return [g, null, gather(g, node.inputs[1], 0)];
  },
});

/** Copy of `data` with `updates` added at rows `indices` (int64) along axis 0; repeats accumulate. */
export function scatterAdd(data: Value, indices: Value, updates: Value): Value {
  return apply1('scatter_add', [data, indices, updates]);
}
