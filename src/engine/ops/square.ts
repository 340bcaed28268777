/**
 * square: x^2 elementwise (ONNX Mul(x, x); ONNX has no Square). VJP: dx = 2 g x.
 *
 * @example
 *   const loss = mean(square(sub(pred, target)));
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'square',
  infer: inferUnary,
  lower(ctx, node) {
    const x = ctx.name(node.inputs[0]);
    ctx.emit('Mul', [x, x], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && mul(g, mul(node.inputs[0], 2))],
});

/** Elementwise x * x. */
export function square(x: Value): Value {
  return apply1('square', [x]);
}
