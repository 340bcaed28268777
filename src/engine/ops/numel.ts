/**
 * numel: the number of elements of `x` over `axes` (all when omitted), as a float32 scalar. A plain
 * constant when those dimensions are static; otherwise computed at run time from the input's shape
 * (ONNX Shape -> Gather -> ReduceProd -> Cast), so `mean` over a symbolic 'batch' works. No gradient
 * (the value depends on the shape only).
 *
 * @example
 *   const n = numel(x, [0]);   // batch size of x: ['batch', 3] as a float scalar
 */
import { apply1, registerOp, scalarConst } from '../trace.ts';
import { staticSize, type Value } from '../graph.ts';
import { checkAxes } from './_checks.ts';

registerOp({
  name: 'numel',
  infer: () => [{ shape: [], dtype: 'float32' }],
  lower(ctx, node) {
    const axes = node.attrs.axes as number[];
    const [shape] = ctx.emit('Shape', [ctx.name(node.inputs[0])]);
    const [dims] = ctx.emit('Gather', [shape, ctx.constInt64(axes)], { axis: 0 });
    const [n] = ctx.emit('ReduceProd', [dims], { keepdims: 0 });
    ctx.emit('Cast', [n], { to: 1 }, ctx.outputs(node));
  },
  vjp: () => [null],
});

/** Number of elements of `x` over `axes` (all when omitted) as a float32 scalar Value. */
export function numel(x: Value, axes?: number[]): Value {
  const ax = checkAxes('numel', x, axes);
  const n = staticSize(ax.map((a) => x.shape[a]));
  if (n !== undefined) return scalarConst(n);
  return apply1('numel', [x], { axes: ax });
}
