/** reshape: same elements, new shape (row-major). One dim may be -1; symbolic dims are kept. */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, staticSize, type Dim, type Shape, type Value } from '../graph.ts';

function resolve(input: Shape, target: readonly Dim[]): Dim[] {
  const out = [...target];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    if (out.indexOf(-1, neg + 1) >= 0) throw new Error('at most one dimension may be -1');
    const total = staticSize(input);
    const rest = staticSize(out.filter((_, i) => i !== neg));
    if (total === undefined || rest === undefined) throw new Error('-1 needs static dimensions elsewhere');
    if (rest === 0 || total % rest !== 0) throw new Error(`cannot infer -1 dimension`);
    out[neg] = total / rest;
  }
  // Symbolic dims must match symbolic dims of the input one-to-one; static parts must agree in size.
  const symIn = input.filter((d) => typeof d === 'string').sort();
  const symOut = out.filter((d) => typeof d === 'string').sort();
  if (symIn.join() !== symOut.join()) throw new Error(`symbolic dimensions differ`);
  const a = staticSize(input.filter((d) => typeof d === 'number'));
  const b = staticSize(out.filter((d) => typeof d === 'number'));
  if (a !== b) throw new Error(`sizes differ (${a} vs ${b} elements)`);
  return out;
}

registerOp({
  name: 'reshape',
  infer: (inputs, attrs) => [{ shape: resolve(inputs[0].shape, attrs.shape as Dim[]), dtype: inputs[0].dtype }],
  lower(ctx, node) {
    const x = node.inputs[0];
    const target = node.outputs[0].shape;
    const syms = target.filter((d) => typeof d === 'string');
    let dims: number[];
    if (syms.length === 0) dims = target as number[];
    else if (syms.length === 1)
      dims = target.map((d) => (typeof d === 'string' ? (x.shape.indexOf(d) === target.indexOf(d) ? 0 : -1) : d));
    else
      dims = target.map((d, i) => {
        if (typeof d === 'number') return d;
        if (x.shape[i] === d) return 0;
        throw new Error(
          `reshape to [${formatShape(target)}] (called at ${node.caller}): symbolic dimension '${d}' must keep its position when several are symbolic`,
        );
      });
    ctx.emit('Reshape', [ctx.name(x), ctx.constInt64(dims)], {}, ctx.outputs(node));
  },
  vjp: (node, [g]) => [g && reshape(g, node.inputs[0].shape)],
});

/** Reshape `x` to `shape` (one entry may be -1). */
export function reshape(x: Value, shape: readonly Dim[]): Value {
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  return apply1('reshape', [x], { shape: [...shape] });
}

/** Collapse all dimensions from `axis` on into one. */
export function flatten(x: Value, axis = 1): Value {
  const tail = staticSize(x.shape.slice(axis));
  if (tail === undefined)
    throw new Error(`flatten: dimensions after axis ${axis} must be static, got [${formatShape(x.shape)}]`);
  return reshape(x, [...x.shape.slice(0, axis), tail]);
}
