/**
 * softmax over one axis: y = e^x / sum(e^x) (ONNX Softmax, opset 13+ semantics: a single axis).
 * VJP: dx = y (g - sum(g y, axis)).
 *
 * @example
 *   const attn = softmax(mul(matmul(q, transpose(k)), scale), -1);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';
import { sum } from './reduce_sum.ts';
import { sub } from './sub.ts';

registerOp({
  name: 'softmax',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Softmax', [ctx.name(node.inputs[0])], { axis: node.attrs.axis as number }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const y = node.outputs[0];
    const axis = node.attrs.axis as number;
    return [mul(y, sub(g, sum(mul(g, y), [axis], true)))];
  },
});

/** Softmax of `x` along `axis` (default the last). */
export function softmax(x: Value, axis = -1): Value {
  return apply1('softmax', [x], { axis: checkAxis('softmax', x, axis) });
}
