/**
 * tanh: hyperbolic tangent elementwise (ONNX Tanh). VJP: d tanh / dx = 1 - tanh^2, so
 * dx = g (1 - y^2).
 *
 * @example
 *   const h = tanh(x);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';

registerOp({
  name: 'tanh',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Tanh', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const y = node.outputs[0];
    return [mul(g, sub(1, mul(y, y)))];
  },
});

/** Elementwise hyperbolic tangent. */
export function tanh(x: Value): Value {
  return apply1('tanh', [x]);
}
