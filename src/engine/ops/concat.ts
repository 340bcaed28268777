/**
 * concat: join values along one axis (ONNX Concat). All other dimensions must be equal.
 * VJP: `split` of the gradient into the inputs' sizes along that axis.
 *
 * When a joined dimension is symbolic, the result gets a symbolic dimension naming the parts,
 * e.g. concat([x, x], 0) of x: ['batch', 4] has shape ['batch+batch', 4] (as for classifier-free
 * guidance); `chunk` splits it back.
 *
 * @example
 *   const h = concat([x, tEmb], 1);          // [n, 2] and [n, 64] -> [n, 66]
 *   const both = concat([x, x], 0);          // ['batch', ...] -> ['batch+batch', ...]
 */
import { apply1, callerSite, registerOp, ShapeError } from '../trace.ts';
import type { Dim, Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { split } from './split.ts';

/**
 * The size of dimensions joined end to end: their sum when all are static; otherwise a symbolic
 * name listing the symbolic parts (sorted) and the static total, e.g. ['batch', 2, 'batch'] -> 'batch+batch+2'.
 */
export function sumDims(dims: readonly Dim[]): Dim {
  let total = 0;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') total += d;
    else syms.push(...d.split('+'));
  }
  if (syms.length === 0) return total;
  syms.sort();
  // a symbolic dimension may itself carry a static part ('batch+2'): fold numeric terms into the total
  const names = syms.filter((s) => !/^\d+$/.test(s));
  total += syms.filter((s) => /^\d+$/.test(s)).reduce((a, s) => a + Number(s), 0);
  return total ? [...names, String(total)].join('+') : names.join('+');
}

registerOp({
  name: 'concat',
  infer(inputs, attrs) {
    const axis = attrs.axis as number;
    const [first] = inputs;
    for (const v of inputs) {
      if (v.rank !== first.rank)
        throw new Error(`all inputs need the same rank, got ranks ${inputs.map((u) => u.rank).join(', ')}`);
      if (v.dtype !== first.dtype)
        throw new Error(`all inputs need the same dtype, got ${inputs.map((u) => u.dtype).join(', ')}`);
      v.shape.forEach((d, i) => {
        if (i !== axis && d !== first.shape[i])
          throw new Error(`dimension ${i} differs (${first.shape[i]} vs ${d}); only axis ${axis} may differ`);
      });
    }
    // `dim` (internal, from split's VJP) names the joined dimension when it is known to be the split input's.
    const joined = (attrs.dim as Dim | undefined) ?? sumDims(inputs.map((v) => v.shape[axis]));
    return [{ shape: first.shape.map((d, i) => (i === axis ? joined : d)), dtype: first.dtype }];
  },
  lower: (ctx, node) => {
    ctx.emit(
      'Concat',
      node.inputs.map((v) => ctx.name(v)),
      { axis: node.attrs.axis as number },
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return node.inputs.map(() => null);
    const axis = node.attrs.axis as number;
    return split(
      g,
      node.inputs.map((v) => v.shape[axis]),
      axis,
      node.inputs,
    );
  },
});

/** Concatenate `xs` along `axis` (torch.cat); a single input is returned as is. */
export function concat(xs: readonly Value[], axis = 0): Value {
  if (xs.length === 0) throw new ShapeError(`concat: needs at least one input (called at ${callerSite()})`);
  const ax = checkAxis('concat', xs[0], axis);
  if (xs.length === 1) return xs[0];
  return apply1('concat', [...xs], { axis: ax });
}

/**
 * Internal (the VJP of split): concatenate parts that are known to rebuild a dimension `dim`, so the
 * result keeps that symbolic name (e.g. chunks 'n/2' + 'n/2' -> 'n').
 */
export function concatAs(xs: readonly Value[], axis: number, dim: Dim): Value {
  if (xs.length === 1) return xs[0];
  return apply1('concat', [...xs], { axis, dim });
}
