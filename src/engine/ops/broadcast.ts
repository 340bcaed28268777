/**
 * broadcastTo: numpy-style broadcast to a target shape (ONNX Expand). Its VJP is `sumTo`,
 * which sums a gradient back over the broadcast dimensions.
 */
import { apply1, registerOp } from '../trace.ts';
import { broadcastShapes, formatShape, type Dim, type Shape, type Value } from '../graph.ts';
import { reshape } from './reshape.ts';
import { sum } from './reduce_sum.ts';

registerOp({
  name: 'broadcast',
  infer(inputs, attrs) {
    const target = attrs.shape as Dim[];
    const like = inputs[1];
    if (like && (like.rank !== target.length || like.shape.some((d, i) => d !== target[i]))) {
      throw new Error(
        `shape of the 'like' value [${formatShape(like.shape)}] differs from the target [${formatShape(target)}]`,
      );
    }
    const s = broadcastShapes(inputs[0].shape, target);
    if (!s || s.length !== target.length || s.some((d, i) => d !== target[i])) {
      throw new Error(`cannot broadcast [${formatShape(inputs[0].shape)}] to [${formatShape(target)}]`);
    }
    return [{ shape: target, dtype: inputs[0].dtype }];
  },
  lower(ctx, node) {
    const target = node.attrs.shape as Dim[];
    const x = node.inputs[0];
    // Symbolic dims come from the input itself (Expand keeps a dim when the target says 1).
    const pad = target.length - x.rank;
    const dims = target.map((d, i) => (typeof d === 'number' ? d : i >= pad && x.shape[i - pad] === d ? 1 : NaN));
    if (!dims.some(Number.isNaN)) {
      ctx.emit('Expand', [ctx.name(x), ctx.constInt64(dims)], {}, ctx.outputs(node));
    } else {
      const like = node.inputs[1];
      if (!like)
        throw new Error(
          `broadcast to [${formatShape(target)}] (called at ${node.caller}): a symbolic dimension is not present in the input; pass a 'like' value`,
        );
      const [shape] = ctx.emit('Shape', [ctx.name(like)]);
      ctx.emit('Expand', [ctx.name(x), shape], {}, ctx.outputs(node));
    }
  },
  vjp: (node, [g]) => [g && sumTo(g, node.inputs[0].shape), null],
});

/**
 * Broadcast `x` to `shape` (numpy rules). When `shape` has a symbolic dimension that `x`
 * lacks, pass `like`: a value of that shape whose runtime shape is used.
 */
export function broadcastTo(x: Value, shape: Shape, like?: Value): Value {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  const needsLike = shape.some((d, i) => typeof d === 'string' && x.shape[i - (shape.length - x.rank)] !== d);
  return apply1('broadcast', needsLike && like ? [x, like] : [x], { shape: [...shape] });
}

/** Sum `g` over the dimensions that broadcasting added or expanded, giving `shape`. */
export function sumTo(g: Value, shape: Shape): Value {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}
