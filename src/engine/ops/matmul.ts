/**
 * matmul: batched matrix product with numpy semantics (ONNX MatMul). Rank-1 operands are not
 * promoted; both must have rank >= 2. VJP: dA = g B^T, dB = A^T g, summed over broadcast batch dims.
 */
import { apply1, registerOp } from '../trace.ts';
import { broadcastShapes, formatShape, type Value } from '../graph.ts';
import { sumTo } from './broadcast.ts';
import { transpose } from './transpose.ts';

registerOp({
  name: 'matmul',
  infer([a, b]) {
    if (a.rank < 2 || b.rank < 2) throw new Error('both operands need rank >= 2');
    const k1 = a.shape[a.rank - 1],
      k2 = b.shape[b.rank - 2];
    if (k1 !== k2) throw new Error(`inner dimensions differ: ${k1} vs ${k2}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!batch)
      throw new Error(
        `batch dimensions [${formatShape(a.shape.slice(0, -2))}] and [${formatShape(b.shape.slice(0, -2))}] do not broadcast`,
      );
    return [{ shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]], dtype: 'float32' }];
  },
  lower: (ctx, node) => {
    ctx.emit(
      'MatMul',
      node.inputs.map((v) => ctx.name(v)),
      {},
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    return [sumTo(matmul(g, transpose(b)), a.shape), sumTo(matmul(transpose(a), g), b.shape)];
  },
});

/** Batched matrix product a @ b. */
export function matmul(a: Value, b: Value): Value {
  return apply1('matmul', [a, b]);
}
