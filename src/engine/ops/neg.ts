/** neg: -x. VJP: -g. */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';

registerOp({
  name: 'neg',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Neg', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (_node, [g]) => [g && neg(g)],
});

/** Elementwise -x. */
export function neg(x: Value): Value {
  return apply1('neg', [x]);
}
