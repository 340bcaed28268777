/**
 * relu: max(x, 0) elementwise (ONNX Relu). VJP: dx = g where y > 0, else 0 (the subgradient at
 * x = 0 is 0, as in torch).
 *
 * @example
 *   const h = relu(matmul(x, w));
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { greater } from './compare.ts';
import { where } from './where.ts';

registerOp({
  name: 'relu',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Relu', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && where(greater(node.outputs[0], 0), g, 0)],
});

/** Elementwise rectified linear unit max(x, 0). */
export function relu(x: Value): Value {
  return apply1('relu', [x]);
}
