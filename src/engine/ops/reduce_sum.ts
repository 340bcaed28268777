/** sum over axes (ONNX ReduceSum). VJP: broadcast the gradient back. */
import { apply1, registerOp } from '../trace.ts';
import { normAxis, type Dim, type Value } from '../graph.ts';
import { broadcastTo } from './broadcast.ts';
import { reshape } from './reshape.ts';
import { checkAxes } from './_checks.ts';

export function reducedShape(shape: readonly Dim[], axes: number[], keepDims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

export function normAxes(axes: number[] | undefined, rank: number, what: string): number[] {
  const list = axes ?? [...Array(rank).keys()];
  const out = [...new Set(list.map((a) => normAxis(a, rank, what)))].sort((a, b) => a - b);
  return out;
}

registerOp({
  name: 'reduce_sum',
  infer: (inputs, attrs) => [
    { shape: reducedShape(inputs[0].shape, attrs.axes as number[], attrs.keepDims as boolean), dtype: inputs[0].dtype },
  ],
  lower(ctx, node) {
    const axes = node.attrs.axes as number[];
    ctx.emit(
      'ReduceSum',
      [ctx.name(node.inputs[0]), ctx.constInt64(axes)],
      { keepdims: node.attrs.keepDims ? 1 : 0 },
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const kept = reducedShape(x.shape, node.attrs.axes as number[], true);
    return [broadcastTo(reshape(g, kept), x.shape, x)];
  },
});

/** Sum of `x` over `axes` (all when omitted). */
export function sum(x: Value, axes?: number[], keepDims = false): Value {
  const ax = checkAxes('sum', x, axes);
  if (ax.length === 0) return x;
  return apply1('reduce_sum', [x], { axes: ax, keepDims });
}
