/** add: a + b with numpy broadcasting. d/da = g, d/db = g (summed over broadcast dims). */
import { apply1, registerOp, type Operand } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferBroadcast } from './_util.ts';
import { sumTo } from './broadcast.ts';

registerOp({
  name: 'add',
  infer: inferBroadcast,
  lower: (ctx, node) => {
    ctx.emit(
      'Add',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp: (node, [g]) => [g && sumTo(g, node.inputs[0].shape), g && sumTo(g, node.inputs[1].shape)],
});

/** Elementwise a + b (broadcasting; numbers become float32 constants). */
export function add(a: Operand, b: Operand): Value {
  return apply1('add', [a, b]);
}
