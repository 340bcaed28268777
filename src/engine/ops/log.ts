/**
 * log: natural logarithm elementwise (ONNX Log). VJP: d ln x / dx = 1 / x, so dx = g / x.
 *
 * @example
 *   const nll = neg(log(p));
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { div } from './div.ts';

registerOp({
  name: 'log',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Log', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && div(g, node.inputs[0])],
});

/** Elementwise natural logarithm (-inf at 0, NaN below). */
export function log(x: Value): Value {
  return apply1('log', [x]);
}
