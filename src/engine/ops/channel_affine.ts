/**
 * channelAffine: y[n, c, ...] = x[n, c, ...] * scale + shift with one scale and shift per channel
 * (`scale`, `shift` of shape [C]) or per sample and channel ([N, C]); `shift` may be omitted.
 *
 * The same as broadcast mul + add, in one pass over x: lowered to an inference-mode ONNX
 * BatchNormalization with mean 0, variance 1 and epsilon 0 (y = scale (x - 0) / sqrt(1 + 0) + shift),
 * on x itself for per-channel coefficients or on x viewed as [1, N C, spatial] for per-sample ones.
 * Measured on [64, 64, 28, 28], 1 thread: 3.95 ms against 5.41 ms for Mul + Add (best of 15).
 * Used by group_norm (its affine, and the coefficients of its VJP).
 * VJP: dx = channelAffine(g, scale), dscale = sum(g x), dshift = sum(g) over the other axes.
 *
 * @example
 *   const z = channelAffine(xhat, gamma, beta);   // xhat [n, 64, 14, 14], gamma/beta [64]
 */
import { formatShape, type Value } from '../graph.ts';
import { apply1, registerOp, type LowerCtx } from '../trace.ts';
import { mul } from './mul.ts';
import { sum } from './reduce_sum.ts';

registerOp({
  name: 'channel_affine',
  infer(inputs) {
    const [x, scale, shift] = inputs;
    if (x.dtype !== 'float32') throw new Error(`expected a float32 input, got ${x.dtype}`);
    if (x.rank < 2) throw new Error(`input must be [N, C, ...], got rank ${x.rank}`);
    const C = x.shape[1];
    for (const [v, what] of [
      [scale, 'scale'],
      [shift, 'shift'],
    ] as const) {
      if (!v) continue;
      const perChannel = v.rank === 1 && v.shape[0] === C;
      const perSample = v.rank === 2 && v.shape[0] === x.shape[0] && v.shape[1] === C;
      if (!perChannel && !perSample)
        throw new Error(
          `${what} must have shape [${String(C)}] or [${String(x.shape[0])}, ${String(C)}], got [${formatShape(v.shape)}]`,
        );
    }
    if (shift && shift.rank !== scale.rank)
      throw new Error(
        `scale and shift must both be per channel or both per sample, got [${formatShape(scale.shape)}] and [${formatShape(shift.shape)}]`,
      );
    return [{ shape: x.shape, dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [x, scale, shift] = node.inputs;
    const [out] = ctx.outputs(node);
    const attrs = { epsilon: { float: 0 } };
    if (scale.rank === 1) {
      emitPerChannelAffine(
        ctx,
        ctx.name(x),
        x.shape[1] as number,
        ctx.name(scale),
        shift ? ctx.name(shift) : undefined,
        [out],
      );
      return;
    }
    // per (n, c): x as [1, N C, spatial]; mean 0 and variance 1 of the run-time length N C
    const spatial = (x.shape.slice(2) as number[]).reduce((a, b) => a * b, 1);
    const [xr] = ctx.emit('Reshape', [ctx.name(x), ctx.constInt64([1, -1, spatial])]);
    const [s] = ctx.emit('Reshape', [ctx.name(scale), ctx.constInt64([-1])]);
    const [len] = ctx.emit('Shape', [s]);
    const [zeros] = ctx.emit('Expand', [ctx.constFloat([0], [1]), len]);
    const [ones] = ctx.emit('Expand', [ctx.constFloat([1], [1]), len]);
    const b = shift ? ctx.emit('Reshape', [ctx.name(shift), ctx.constInt64([-1])])[0] : zeros;
    const [y] = ctx.emit('BatchNormalization', [xr, s, b, zeros, ones], attrs);
    ctx.emit('Reshape', [y, ctx.constInt64([-1, ...(x.shape.slice(1) as number[])])], {}, [out]);
  },
  vjp(node, [g]) {
    if (!g) return node.inputs.map(() => null);
    const [x, scale, shift] = node.inputs;
    const spatialAxes = [...Array(x.rank).keys()].slice(2);
    const reduce = (v: Value): Value => sum(v, scale.rank === 1 ? [0, ...spatialAxes] : spatialAxes);
    const out: (Value | null)[] = [channelAffine(g, scale), reduce(mul(g, x))];
    if (shift) out.push(reduce(g));
    return out;
  },
});

/**
 * Emit y = x * scale[c] + shift[c] over axis 1 of `x` (C channels) as one BatchNormalization (mean 0,
 * variance 1, epsilon 0); a missing scale or shift is 1 or 0. Returns the output name.
 */
export function emitPerChannelAffine(
  ctx: LowerCtx,
  x: string,
  C: number,
  scale: string | undefined,
  shift: string | undefined,
  outputs: string[] | number = 1,
): string {
  const zeros = ctx.constFloat(new Float32Array(C), [C]),
    ones = ctx.constFloat(new Float32Array(C).fill(1), [C]);
  return ctx.emit(
    'BatchNormalization',
    [x, scale ?? ones, shift ?? zeros, zeros, ones],
    { epsilon: { float: 0 } },
    outputs,
  )[0];
}

/** x * scale + shift per channel ([C]) or per sample and channel ([N, C]); see the file comment. */
export function channelAffine(x: Value, scale: Value, shift?: Value | null): Value {
  return apply1('channel_affine', shift ? [x, scale, shift] : [x, scale]);
}
