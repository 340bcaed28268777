/**
 * pad: constant padding (ONNX Pad, mode 'constant'). `pads` uses the ONNX layout
 * [x1_begin, x2_begin, ..., x1_end, x2_end, ...], one begin and one end count per axis, all >= 0.
 * VJP: `slice` of the gradient back to the unpadded region.
 *
 * @example
 *   const y = pad(x, [0, 0, 1, 1, 0, 0, 1, 1]);   // NCHW: one zero row/column on each side of H and W
 */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import { slice } from './slice.ts';

registerOp({
  name: 'pad',
  infer([x], attrs) {
    const pads = attrs.pads as number[];
    const value = attrs.value;
    if (!Array.isArray(pads) || pads.length !== 2 * x.rank)
      throw new Error(
        `pads must have 2 * rank = ${2 * x.rank} entries (all begins, then all ends), got [${String(pads)}]`,
      );
    if (pads.some((p) => !Number.isInteger(p) || p < 0))
      throw new Error(`pads must be non-negative integers, got [${pads.join(', ')}]`);
    if (typeof value !== 'number') throw new Error(`the padding value must be a number, got ${String(value)}`);
    if (x.dtype !== 'float32') throw new Error(`expected a float32 input, got ${x.dtype}`);
    const shape = x.shape.map((d, i) => {
      const extra = pads[i] + pads[i + x.rank];
      if (extra === 0) return d;
      if (typeof d !== 'number')
        throw new Error(
          `cannot pad symbolic dimension ${i} ('${d}'); pads for it must be 0, got [${formatShape(pads)}]`,
        );
      return d + extra;
    });
    return [{ shape, dtype: x.dtype }];
  },
  lower(ctx, node) {
    const pads = ctx.constInt64(node.attrs.pads as number[]);
    const value = ctx.constFloat([node.attrs.value as number], []);
    ctx.emit('Pad', [ctx.name(node.inputs[0]), pads, value], { mode: 'constant' }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const pads = node.attrs.pads as number[];
    const axes: number[] = [],
      starts: number[] = [],
      ends: number[] = [];
    x.shape.forEach((d, i) => {
      if (pads[i] + pads[i + x.rank] === 0) return;
      axes.push(i);
      starts.push(pads[i]);
      ends.push(pads[i] + (d as number));
    });
    return [slice(g, starts, ends, axes)];
  },
});

/** Pad `x` with `value` (default 0); `pads` = all begin counts then all end counts (ONNX layout). */
export function pad(x: Value, pads: readonly number[], value = 0): Value {
  if (pads.every((p) => p === 0) && pads.length === 2 * x.rank) return x;
  return apply1('pad', [x], { pads: [...pads], value });
}
