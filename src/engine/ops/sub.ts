/** sub: a - b with broadcasting. d/da = g, d/db = -g. */
import { apply1, registerOp, type Operand } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferBroadcast } from './_util.ts';
import { sumTo } from './broadcast.ts';
import { neg } from './neg.ts';

registerOp({
  name: 'sub',
  infer: inferBroadcast,
  lower: (ctx, node) => {
    ctx.emit(
      'Sub',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp: (node, [g]) => [g && sumTo(g, node.inputs[0].shape), g && sumTo(neg(g), node.inputs[1].shape)],
});

/** Elementwise a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Value {
  return apply1('sub', [a, b]);
}
