/**
 * cos: elementwise cosine (ONNX Cos). VJP: dx = -g sin(x).
 *
 * @example
 *   const emb = cos(mul(t, freqs));   // sinusoidal timestep embedding
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { sin } from './sin.ts';

registerOp({
  name: 'cos',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Cos', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && neg(mul(g, sin(node.inputs[0])))],
});

/** Elementwise cosine (radians). */
export function cos(x: Value): Value {
  return apply1('cos', [x]);
}
