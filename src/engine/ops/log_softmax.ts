/**
 * logSoftmax over one axis: y = x - log(sum(e^x)) (ONNX LogSoftmax, opset 13+ semantics).
 * VJP: dx = g - softmax(x) sum(g, axis), with softmax(x) = e^y.
 *
 * @example
 *   const logp = logSoftmax(logits, -1);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { inferUnary } from './_util.ts';
import { exp } from './exp.ts';
import { mul } from './mul.ts';
import { sum } from './reduce_sum.ts';
import { sub } from './sub.ts';

registerOp({
  name: 'log_softmax',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('LogSoftmax', [ctx.name(node.inputs[0])], { axis: node.attrs.axis as number }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const axis = node.attrs.axis as number;
    return [sub(g, mul(exp(node.outputs[0]), sum(g, [axis], true)))];
  },
});

/** log(softmax(x)) along `axis` (default the last), computed stably. */
export function logSoftmax(x: Value, axis = -1): Value {
  return apply1('log_softmax', [x], { axis: checkAxis('logSoftmax', x, axis) });
}
