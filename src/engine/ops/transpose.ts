/** transpose / permute: reorder axes (ONNX Transpose). VJP: the inverse permutation. */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';

registerOp({
  name: 'transpose',
  infer(inputs, attrs) {
    const perm = attrs.perm as number[];
    const x = inputs[0];
    if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new Error(`perm [${perm.join(', ')}] is not a permutation of ${x.rank} axes`);
    }
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  lower: (ctx, node) => {
    ctx.emit('Transpose', [ctx.name(node.inputs[0])], { perm: node.attrs.perm as number[] }, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const perm = node.attrs.perm as number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [permute(g, inv)];
  },
});

/** Reorder the axes of `x`: output axis i is input axis perm[i]. */
export function permute(x: Value, perm: number[]): Value {
  const p = perm.map((a) => checkAxis('permute', x, a));
  if (p.every((a, i) => a === i)) return x;
  return apply1('transpose', [x], { perm: p });
}

/** Swap two axes (default: the last two). */
export function transpose(x: Value, a = -2, b = -1): Value {
  const perm = [...Array(x.rank).keys()];
  const i = checkAxis('transpose', x, a),
    j = checkAxis('transpose', x, b);
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}
