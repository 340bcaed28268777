/**
 * gather / embedding: pick entries of `table` along `axis` by int64 indices (ONNX Gather; like
 * numpy.take / torch.index_select with multi-dimensional indices). Output shape:
 * table.shape[:axis] + indices.shape + table.shape[axis+1:]. Indices must lie in [0, size); negative
 * indices follow ONNX (count from the end).
 *
 * VJP (table): the gradient rows are summed back into zeros of the table's shape with `scatterAdd`
 * (ONNX ScatterND, reduction 'add', so repeated indices accumulate); for axis != 0 the axes are
 * permuted so that the gathered axis comes first, and back. Indices get no gradient.
 *
 * `embedding(table, indices)` is gather along axis 0 that also accepts float indices (cast to int64,
 * truncating), e.g. class labels fed as float32.
 *
 * @example
 *   const e = embedding(classTable, labels);        // [numClasses, dim], ['batch'] -> ['batch', dim]
 *   const cols = gather(x, constantInt64([0, 2]), 1); // x[:, [0, 2]]
 */
import { apply1, registerOp, scalarConst } from '../trace.ts';
import type { Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { broadcastTo } from './broadcast.ts';
import { cast } from './cast.ts';
import { scatterAdd } from './scatter_add.ts';
import { permute } from './transpose.ts';

registerOp({
  name: 'gather',
  infer([table, indices], attrs) {
    const axis = attrs.axis as number;
    if (indices.dtype !== 'int64')
      throw new Error(
        `indices must be int64, got ${indices.dtype} (use embedding() for float indices, or cast(indices, 'int64'))`,
      );
    if (table.rank < 1) throw new Error('table must have rank >= 1');
    return [
      { shape: [...table.shape.slice(0, axis), ...indices.shape, ...table.shape.slice(axis + 1)], dtype: table.dtype },
    ];
  },
  lower: (ctx, node) => {
    ctx.emit(
      'Gather',
      node.inputs.map((v) => ctx.name(v)),
      { axis: node.attrs.axis as number },
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null, null];
    const [table, indices] = node.inputs;
    const axis = node.attrs.axis as number;
    if (axis === 0) return [scatterAdd(broadcastTo(scalarConst(0), table.shape, table), indices, g), null];
    // Bring the gathered axis to the front: table [pre, A, post] -> [A, pre, post]; g [pre, I, post] -> [I, pre, post].
    const r = table.rank,
      q = indices.rank;
    const tPerm = [
      axis,
      ...Array.from({ length: axis }, (_, i) => i),
      ...Array.from({ length: r - axis - 1 }, (_, i) => axis + 1 + i),
    ];
    const gPerm = [
      ...Array.from({ length: q }, (_, i) => axis + i),
      ...Array.from({ length: axis }, (_, i) => i),
      ...Array.from({ length: r - axis - 1 }, (_, i) => axis + q + i),
    ];
    const tFront = permute(table, tPerm);
    const acc = scatterAdd(broadcastTo(scalarConst(0), tFront.shape, tFront), indices, permute(g, gPerm));
    const inv = new Array<number>(r);
    tPerm.forEach((p, i) => {
      inv[p] = i;
    });
    return [permute(acc, inv), null];
  },
});

/** Entries of `table` at int64 `indices` along `axis` (numpy.take). */
export function gather(table: Value, indices: Value, axis = 0): Value {
  return apply1('gather', [table, indices], { axis: checkAxis('gather', table, axis) });
}

/** Rows of `table` at `indices` (int64, or float32 truncated to int64), like torch.nn.functional.embedding. */
export function embedding(table: Value, indices: Value): Value {
  return gather(table, indices.dtype === 'float32' ? cast(indices, 'int64') : indices, 0);
}
