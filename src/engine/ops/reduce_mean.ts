/**
 * mean over axes (ONNX ReduceMean; axes an attribute up to opset 17, an input from 18).
 * VJP: dx = broadcast(g) / N, N = number of elements reduced (a run-time value via `numel` when
 * a reduced dimension is symbolic).
 *
 * @example
 *   const loss = mean(square(sub(pred, target)));   // over all axes -> scalar
 *   const mu = mean(x, [2, 3], true);               // per-channel spatial mean, keeps dims
 */
import { apply1, registerOp } from '../trace.ts';
import { OPSET } from '../onnx.ts';
import type { Value } from '../graph.ts';
import { checkAxes } from './_checks.ts';
import { broadcastTo } from './broadcast.ts';
import { div } from './div.ts';
import { numel } from './numel.ts';
import { reducedShape } from './reduce_sum.ts';
import { reshape } from './reshape.ts';

registerOp({
  name: 'reduce_mean',
  infer([x], attrs) {
    if (x.dtype !== 'float32') throw new Error(`expected a float32 input, got ${x.dtype}`);
    return [{ shape: reducedShape(x.shape, attrs.axes as number[], attrs.keepDims as boolean), dtype: 'float32' }];
  },
  lower(ctx, node) {
    const axes = node.attrs.axes as number[];
    const keepdims = node.attrs.keepDims ? 1 : 0;
    // axes is an attribute up to opset 17 and an input from opset 18 on
    if (OPSET >= 18)
      ctx.emit('ReduceMean', [ctx.name(node.inputs[0]), ctx.constInt64(axes)], { keepdims }, ctx.outputs(node));
    else ctx.emit('ReduceMean', [ctx.name(node.inputs[0])], { axes, keepdims }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const axes = node.attrs.axes as number[];
    const kept = reducedShape(x.shape, axes, true);
    return [broadcastTo(div(reshape(g, kept), numel(x, axes)), x.shape, x)];
  },
});

/** Mean of `x` over `axes` (all when omitted); keepDims keeps reduced axes as size 1. */
export function mean(x: Value, axes?: number[], keepDims = false): Value {
  const ax = checkAxes('mean', x, axes);
  if (ax.length === 0) return x;
  return apply1('reduce_mean', [x], { axes: ax, keepDims });
}
