/**
 * sqrt: elementwise square root (ONNX Sqrt). VJP: d sqrt(x) / dx = 1 / (2 sqrt(x)), so dx = 0.5 g / y.
 *
 * @example
 *   const std = sqrt(variance);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { div } from './div.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'sqrt',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Sqrt', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && div(mul(g, 0.5), node.outputs[0])],
});

/** Elementwise square root (NaN below 0). */
export function sqrt(x: Value): Value {
  return apply1('sqrt', [x]);
}
