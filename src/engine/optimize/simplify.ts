/**
 * Local simplifications that are exact in float32 (the optimised graph computes bit for bit what
 * the traced one does, up to the sign of a zero):
 *
 * - `identity` and `stop_gradient` (after autodiff it is an identity) forward their input;
 * - reshape to the input's own shape, broadcast to the input's own shape: dropped;
 * - reshape of a reshape: one reshape of the original (the middle shape is never materialised);
 * - transpose of a transpose: one transpose with the composed permutation, or nothing when it is
 *   the identity (this is how the transposes that autodiff adds around matmuls and attention cancel);
 * - x * 1, 1 * x, x / 1, x + 0, 0 + x, x - 0 (a constant of all ones / zeros that does not broadcast x
 *   to a larger shape): x;  neg(neg(x)): x.
 *
 * @example
 *   const r = simplifyNode(ctx, node, inputs);   // Value[] standing for the node, or undefined to keep it
 */
import type { Node, Value } from '../graph.ts';
import { constOf } from './fold.ts';
import type { RewriteCtx } from './rewrite.ts';

const sameShape = (a: Value, b: Value): boolean =>
  a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

function allEqual(v: Value, x: number): boolean {
  const c = constOf(v);
  if (!c || c.dtype !== 'float32') return false;
  for (let i = 0; i < c.data.length; i++) if (c.data[i] !== x) return false;
  return true;
}

/** Can `reshape(src -> target)` be lowered (symbolic dims: one, or all in place)? See ops/reshape.ts. */
function reshapeLowerable(src: Value, target: readonly (number | string)[]): boolean {
  const syms = target.filter((d) => typeof d === 'string');
  return syms.length <= 1 || target.every((d, i) => typeof d === 'number' || src.shape[i] === d);
}

/** One simplification of `node` (inputs already in the new graph), or undefined. */
export function simplifyNode(ctx: RewriteCtx, node: Node, inputs: Value[]): Value[] | undefined {
  const [x, y] = inputs;
  const out = node.outputs[0];
  switch (node.op) {
    case 'identity':
    case 'stop_gradient':
      return [x];
    case 'reshape': {
      if (sameShape(x, out)) return [x];
      const p = x.producer;
      if (p?.op === 'reshape') {
        const src = p.inputs[0];
        if (sameShape(src, out)) return [src];
        if (reshapeLowerable(src, out.shape)) return ctx.emit('reshape', [src], { shape: [...out.shape] }, node.caller);
      }
      return undefined;
    }
    case 'broadcast':
      return sameShape(x, out) ? [x] : undefined;
    case 'transpose': {
      const perm = node.attrs.perm as number[];
      if (perm.every((a, i) => a === i)) return [x];
      const p = x.producer;
      if (p?.op === 'transpose') {
        const inner = p.attrs.perm as number[];
        const composed = perm.map((a) => inner[a]);
        if (composed.every((a, i) => a === i)) return [p.inputs[0]];
        return ctx.emit('transpose', [p.inputs[0]], { perm: composed }, node.caller);
      }
      return undefined;
    }
    case 'mul':
      if (sameShape(x, out) && allEqual(y, 1)) return [x];
      if (sameShape(y, out) && allEqual(x, 1)) return [y];
      return undefined;
    case 'div':
      return sameShape(x, out) && allEqual(y, 1) ? [x] : undefined;
    case 'add':
      if (sameShape(x, out) && allEqual(y, 0)) return [x];
      if (sameShape(y, out) && allEqual(x, 0)) return [y];
      return undefined;
    case 'sub':
      return sameShape(x, out) && allEqual(y, 0) ? [x] : undefined;
    case 'neg':
      return x.producer?.op === 'neg' ? [x.producer.inputs[0]] : undefined;
    default:
      return undefined;
  }
}
