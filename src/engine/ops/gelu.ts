/**
 * gelu: Gaussian error linear unit (Hendrycks & Gimpel 2016, "Gaussian Error Linear Units",
 * GELU(x) = x Phi(x)), lowered to the formula below with ONNX Erf or Tanh, Mul and Add (ONNX Gelu
 * needs opset 20).
 *
 * - 'none' (torch's default): y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2.
 *   VJP: dx = g (Phi(x) + x phi(x)), phi(x) = e^(-x^2/2) / sqrt(2 pi).
 * - 'tanh' (the paper's approximation): y = x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3).
 *   VJP: dx = g ((1 + t) / 2 + x (1 - t^2) / 2 * sqrt(2/pi) (1 + 3 * 0.044715 x^2)), t = tanh(u).
 *
 * @example
 *   const h = gelu(x);                          // exact, as torch.nn.functional.gelu(x)
 *   const h2 = gelu(x, { approximate: 'tanh' }); // as gelu(x, approximate='tanh')
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { add } from './add.ts';
import { erf } from './erf.ts';
import { exp } from './exp.ts';
import { mul } from './mul.ts';
import { sub } from './sub.ts';
import { tanh } from './tanh.ts';

const APPROXIMATIONS = ['none', 'tanh'] as const;
export type GeluApproximation = (typeof APPROXIMATIONS)[number];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const C = 0.044715;

registerOp({
  name: 'gelu',
  infer(inputs, attrs) {
    if (!APPROXIMATIONS.includes(attrs.approximate as GeluApproximation)) {
      throw new Error(
        `approximate must be one of ${APPROXIMATIONS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(attrs.approximate)}`,
      );
    }
    return inferUnary(inputs);
  },
  lower(ctx, node) {
    const x = ctx.name(node.inputs[0]);
    const out = ctx.outputs(node);
    // The formula, not ONNX Gelu (opset 20+; we export opset 17). ONNX Runtime fuses the erf form into its Gelu kernel.
    const c = (v: number): string => ctx.constFloat([v], []);
    let inner: string;
    if (node.attrs.approximate === 'none') {
      const [s] = ctx.emit('Mul', [x, c(Math.SQRT1_2)]);
      [inner] = ctx.emit('Erf', [s]);
    } else {
      const [x2] = ctx.emit('Mul', [x, x]);
      const [x3] = ctx.emit('Mul', [x2, x]);
      const [cx3] = ctx.emit('Mul', [x3, c(C)]);
      const [u0] = ctx.emit('Add', [x, cx3]);
      const [u] = ctx.emit('Mul', [u0, c(SQRT_2_OVER_PI)]);
      [inner] = ctx.emit('Tanh', [u]);
    }
    const [onePlus] = ctx.emit('Add', [inner, c(1)]);
    const [half] = ctx.emit('Mul', [x, c(0.5)]);
    ctx.emit('Mul', [half, onePlus], {}, out);
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const x2 = mul(x, x);
    if (node.attrs.approximate === 'none') {
      const Phi = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
      const phi = mul(exp(mul(x2, -0.5)), INV_SQRT_2PI);
      return [mul(g, add(Phi, mul(x, phi)))];
    }
    const t = tanh(mul(add(x, mul(mul(x2, x), C)), SQRT_2_OVER_PI));
    const du = mul(add(mul(x2, 3 * C), 1), SQRT_2_OVER_PI);
    const d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, sub(1, mul(t, t))), du), 0.5));
    return [mul(g, d)];
  },
});

/** Elementwise GELU; `approximate: 'tanh'` selects the tanh approximation (default: exact erf form). */
export function gelu(x: Value, opts: { approximate?: GeluApproximation } = {}): Value {
  return apply1('gelu', [x], { approximate: opts.approximate ?? 'none' });
}
