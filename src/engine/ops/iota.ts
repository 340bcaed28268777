/**
 * arange (iota): the constant 0, 1, ..., n-1 as float32 (default) or int64. A static n becomes an
 * initializer; a symbolic n (e.g. 'batch') takes its value at run time from dimension `axis` of a
 * `like` value (ONNX Shape -> Squeeze -> Range, then Cast for float32). No gradient.
 *
 * @example
 *   const freqs = exp(mul(arange(32), -Math.log(10000) / 32));   // sinusoidal embedding frequencies
 *   const rows = arange('batch', { like: x, dtype: 'int64' });   // 0..batch-1 from x: ['batch', 4]
 */
import { apply1, constant, constantInt64, registerOp } from '../trace.ts';
import type { DType, Dim, Value } from '../graph.ts';
import { NDArray } from '../ndarray.ts';
import { checkAxis } from './_checks.ts';

registerOp({
  name: 'iota',
  infer([like], attrs) {
    const { n, axis, dtype } = attrs as { n: string; axis: number; dtype: DType };
    if (like.shape[axis] !== n)
      throw new Error(`dimension ${axis} of the 'like' value is ${like.shape[axis]}, not '${n}'`);
    return [{ shape: [n], dtype }];
  },
  lower(ctx, node) {
    const axis = node.attrs.axis as number;
    const [dim] = ctx.emit('Shape', [ctx.name(node.inputs[0])], { start: axis, end: axis + 1 });
    const [n] = ctx.emit('Squeeze', [dim, ctx.constInt64([0])]);
    const zero = ctx.constInt64([0], []),
      one = ctx.constInt64([1], []);
    if (node.attrs.dtype === 'int64') ctx.emit('Range', [zero, n, one], {}, ctx.outputs(node));
    else {
      const [r] = ctx.emit('Range', [zero, n, one]);
      ctx.emit('Cast', [r], { to: 1 }, ctx.outputs(node));
    }
  },
  vjp: () => [null],
});

/**
 * 0, 1, ..., n-1 (torch.arange(n)). For a symbolic `n`, pass `like` (and `axis`, default the first
 * axis of `like` named n) to read its size at run time.
 */
export function arange(n: Dim, opts: { dtype?: 'float32' | 'int64'; like?: Value; axis?: number } = {}): Value {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int64')
    throw new Error(`arange: dtype ${JSON.stringify(dtype)} is not supported (allowed: float32, int64)`);
  if (typeof n === 'number') {
    if (!Number.isInteger(n) || n < 0) throw new Error(`arange: n must be a non-negative integer, got ${n}`);
    const values = Array.from({ length: n }, (_, i) => i);
    return dtype === 'int64' ? constantInt64(values) : constant(new NDArray([n], values));
  }
  if (!opts.like) throw new Error(`arange: symbolic n '${n}' needs a 'like' value with a dimension named '${n}'`);
  const axis = opts.axis === undefined ? opts.like.shape.indexOf(n) : checkAxis('arange', opts.like, opts.axis);
  return apply1('iota', [opts.like], { n, axis: axis < 0 ? 0 : axis, dtype });
}

/** Alias of `arange`. */
export const iota = arange;
