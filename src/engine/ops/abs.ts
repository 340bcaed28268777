/**
 * abs: |x| elementwise (ONNX Abs). VJP: dx = g sign(x), which is 0 at x = 0 (as in torch).
 *
 * @example
 *   const l1 = mean(abs(sub(pred, target)));
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';
import { sign } from './sign.ts';

registerOp({
  name: 'abs',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Abs', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && mul(g, sign(node.inputs[0]))],
});

/** Elementwise absolute value. */
export function abs(x: Value): Value {
  return apply1('abs', [x]);
}
