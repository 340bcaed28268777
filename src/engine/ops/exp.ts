/**
 * exp: e^x elementwise (ONNX Exp). VJP: d e^x / dx = e^x, so dx = g * y.
 *
 * @example
 *   const y = exp(x);   // x: Value<float32>['batch', 4]
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'exp',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Exp', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && mul(g, node.outputs[0])],
});

/** Elementwise e^x. */
export function exp(x: Value): Value {
  return apply1('exp', [x]);
}
