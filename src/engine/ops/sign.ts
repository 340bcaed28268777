/**
 * sign: -1, 0 or 1 elementwise (ONNX Sign). Its derivative is 0 almost everywhere, so it has
 * no gradient (the VJP returns none, which `grad` treats as zero).
 *
 * @example
 *   const s = sign(x);   // [-2, 0, 3] -> [-1, 0, 1]
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';

registerOp({
  name: 'sign',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Sign', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: () => [null],
});

/** Elementwise sign (0 at 0). */
export function sign(x: Value): Value {
  return apply1('sign', [x]);
}
