/** identity and stopGradient: the same tensor; stopGradient blocks reverse-mode gradients. */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';

registerOp({
  name: 'identity',
  infer: (inputs) => [{ shape: inputs[0].shape, dtype: inputs[0].dtype }],
  lower: (ctx, node) => {
    ctx.emit('Identity', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: (_node, [g]) => [g],
});

registerOp({
  name: 'stop_gradient',
  infer: (inputs) => [{ shape: inputs[0].shape, dtype: inputs[0].dtype }],
  lower: (ctx, node) => {
    ctx.emit('Identity', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
  },
  vjp: () => [null],
});

/** The same value, treated as a constant by `grad` (jax.lax.stop_gradient / torch .detach()). */
export function stopGradient(x: Value): Value {
  return apply1('stop_gradient', [x]);
}
