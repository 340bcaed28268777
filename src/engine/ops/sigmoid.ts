/**
 * sigmoid: 1 / (1 + e^-x) elementwise (ONNX Sigmoid). VJP: d sigma / dx = sigma (1 - sigma),
 * so dx = g y (1 - y).
 *
 * @example
 *   const p = sigmoid(logits);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';

registerOp({
  name: 'sigmoid',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Sigmoid', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const y = node.outputs[0];
    return [mul(g, mul(y, sub(1, y)))];
  },
});

/** Elementwise logistic sigmoid. */
export function sigmoid(x: Value): Value {
  return apply1('sigmoid', [x]);
}
