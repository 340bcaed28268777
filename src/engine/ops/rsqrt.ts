/**
 * rsqrt: 1 / sqrt(x) elementwise (ONNX Sqrt then Reciprocal; ONNX has no fused Rsqrt).
 * VJP: d x^(-1/2) / dx = -1/2 x^(-3/2) = -1/2 y^3, so dx = -0.5 g y^3.
 *
 * @example
 *   const invStd = rsqrt(add(variance, 1e-5));
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'rsqrt',
  infer: inferUnary,
  lower(ctx, node) {
    const [s] = ctx.emit('Sqrt', [ctx.name(node.inputs[0])]);
    ctx.emit('Reciprocal', [s], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const y = node.outputs[0];
    return [mul(mul(g, -0.5), mul(y, mul(y, y)))];
  },
});

/** Elementwise 1 / sqrt(x). */
export function rsqrt(x: Value): Value {
  return apply1('rsqrt', [x]);
}
