/**
 * pow: x^p elementwise for a constant exponent p (ONNX Pow with a scalar initializer).
 * VJP: d x^p / dx = p x^(p-1); like torch, the gradient is exactly 0 when p = 0, and for
 * p = 1 and p = 2 the rule is written without a second Pow (g and 2 g x).
 *
 * @example
 *   const cubed = pow(x, 3);
 *   const invSqrt = pow(x, -0.5);
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'pow',
  infer(inputs, attrs) {
    const p = attrs.exponent;
    if (typeof p !== 'number' || !Number.isFinite(p))
      throw new Error(`exponent must be a finite number, got ${String(p)}`);
    return inferUnary(inputs);
  },
  lower(ctx, node) {
    const p = ctx.constFloat([node.attrs.exponent as number], []);
    ctx.emit('Pow', [ctx.name(node.inputs[0]), p], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const p = node.attrs.exponent as number;
    if (p === 0) return [mul(g, 0)];
    if (p === 1) return [g];
    if (p === 2) return [mul(g, mul(x, 2))];
    return [mul(g, mul(pow(x, p - 1), p))];
  },
});

/** Elementwise x^p for a constant exponent p (NaN for negative x and non-integer p, as in torch). */
export function pow(x: Value, p: number): Value {
  return apply1('pow', [x], { exponent: p });
}
