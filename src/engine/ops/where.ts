/**
 * where(cond, a, b): a where cond is true, else b, with numpy broadcasting of all three (ONNX Where).
 * VJP: da = g where cond (else 0), db = g where not cond, each summed back to its operand's shape;
 * cond gets no gradient. A number for a or b becomes a scalar constant of the other's dtype.
 *
 * @example
 *   const y = where(greater(x, 0), x, 0);   // relu
 */
import { apply1, registerOp, type Operand } from '../trace.ts';
import type { Value } from '../graph.ts';
import { broadcastShapes, formatShape } from '../graph.ts';
import { sumTo } from './broadcast.ts';
import { toOperands } from './compare.ts';

registerOp({
  name: 'where',
  infer([cond, a, b]) {
    if (cond.dtype !== 'bool')
      throw new Error(
        `condition must be bool, got ${cond.dtype} (make one with greater/less/equal or cast(x, 'bool'))`,
      );
    if (a.dtype !== b.dtype) throw new Error(`the two branches have different dtypes ${a.dtype} and ${b.dtype}`);
    const ab = broadcastShapes(a.shape, b.shape);
    const shape = ab && broadcastShapes(cond.shape, ab);
    if (!shape)
      throw new Error(
        `shapes [${formatShape(cond.shape)}], [${formatShape(a.shape)}] and [${formatShape(b.shape)}] do not broadcast`,
      );
    return [{ shape, dtype: a.dtype }];
  },
  lower: (ctx, node) => {
    ctx.emit(
      'Where',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null, null, null];
    const [cond, a, b] = node.inputs;
    return [null, sumTo(where(cond, g, 0), a.shape), sumTo(where(cond, 0, g), b.shape)];
  },
});

/** Elementwise select: a where cond else b (torch.where). */
export function where(cond: Value, a: Operand, b: Operand): Value {
  const [x, y] = toOperands('where', [a, b]);
  return apply1('where', [cond, x, y]);
}
