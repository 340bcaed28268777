/**
 * sin: elementwise sine (ONNX Sin). VJP: dx = g cos(x).
 *
 * @example
 *   const emb = sin(mul(t, freqs));   // sinusoidal timestep embedding
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { cos } from './cos.ts';
import { mul } from './mul.ts';

registerOp({
  name: 'sin',
  infer: inferUnary,
  lower: (ctx, node) => {
    ctx.emit('Sin', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && mul(g, cos(node.inputs[0]))],
});

/** Elementwise sine (radians). */
export function sin(x: Value): Value {
  return apply1('sin', [x]);
}
