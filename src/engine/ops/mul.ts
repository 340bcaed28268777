/** mul: a * b with broadcasting. d/da = g b, d/db = g a. */
import { apply1, registerOp, type Operand } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferBroadcast } from './_util.ts';
import { sumTo } from './broadcast.ts';

registerOp({
  name: 'mul',
  infer: inferBroadcast,
  lower: (ctx, node) => {
    ctx.emit(
      'Mul',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    return [sumTo(mul(g, b), a.shape), sumTo(mul(g, a), b.shape)];
  },
});

/** Elementwise a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Value {
  return apply1('mul', [a, b]);
}
