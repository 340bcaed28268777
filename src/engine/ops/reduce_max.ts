/**
 * max over axes (ONNX ReduceMax; axes an attribute up to opset 17, an input from 18), with torch.amax semantics.
 * VJP: the gradient is split evenly among the elements equal to the maximum (ties), as torch.amax:
 *   mask = (x == y), dx = mask * g / sum(mask over axes).
 *
 * @example
 *   const m = max(logits, [-1], true);   // row maxima, shape [..., 1]
 */
import { apply1, registerOp } from '../trace.ts';
import { OPSET } from '../onnx.ts';
import type { Value } from '../graph.ts';
import { checkAxes } from './_checks.ts';
import { cast } from './cast.ts';
import { equal } from './compare.ts';
import { div } from './div.ts';
import { mul } from './mul.ts';
import { reducedShape, sum } from './reduce_sum.ts';
import { reshape } from './reshape.ts';

registerOp({
  name: 'reduce_max',
  infer([x], attrs) {
    if (x.dtype === 'bool') throw new Error(`expected a float32 or int64 input, got ${x.dtype}`);
    const axes = attrs.axes as number[];
    for (const a of axes) if (x.shape[a] === 0) throw new Error(`cannot take the max over axis ${a} of size 0`);
    return [{ shape: reducedShape(x.shape, axes, attrs.keepDims as boolean), dtype: x.dtype }];
  },
  lower(ctx, node) {
    const axes = node.attrs.axes as number[];
    const keepdims = node.attrs.keepDims ? 1 : 0;
    // axes is an attribute up to opset 17 and an input from opset 18 on
    if (OPSET >= 18)
      ctx.emit('ReduceMax', [ctx.name(node.inputs[0]), ctx.constInt64(axes)], { keepdims }, ctx.outputs(node));
    else ctx.emit('ReduceMax', [ctx.name(node.inputs[0])], { axes, keepdims }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const axes = node.attrs.axes as number[];
    const kept = reducedShape(x.shape, axes, true);
    const mask = cast(equal(x, reshape(node.outputs[0], kept)), 'float32');
    const count = sum(mask, axes, true);
    return [mul(mask, div(reshape(g, kept), count))];
  },
});

/** Maximum of `x` over `axes` (all when omitted), like torch.amax; keepDims keeps reduced axes as size 1. */
export function max(x: Value, axes?: number[], keepDims = false): Value {
  const ax = checkAxes('max', x, axes);
  if (ax.length === 0) return x;
  return apply1('reduce_max', [x], { axes: ax, keepDims });
}
