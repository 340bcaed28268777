/**
 * erf: the Gauss error function elementwise (ONNX Erf). VJP: d erf(x) / dx = 2/sqrt(pi) e^(-x^2).
 *
 * @example
 *   const Phi = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);   // standard normal CDF
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { exp } from './exp.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';

registerOp({
  name: 'erf',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Erf', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    return [mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
});

/** Elementwise error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt. */
export function erf(x: Value): Value {
  return apply1('erf', [x]);
}
