/** div: a / b with broadcasting. d/da = g / b, d/db = -g a / b^2 = -(g / b) * out. */
import { apply1, registerOp, type Operand } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferBroadcast } from './_util.ts';
import { sumTo } from './broadcast.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';

registerOp({
  name: 'div',
  infer: inferBroadcast,
  lower: (ctx, node) => {
    ctx.emit(
      'Div',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    const gOverB = div(g, b);
    return [sumTo(gOverB, a.shape), sumTo(neg(mul(gOverB, node.outputs[0])), b.shape)];
  },
});

/** Elementwise a / b (broadcasting). */
export function div(a: Operand, b: Operand): Value {
  return apply1('div', [a, b]);
}
