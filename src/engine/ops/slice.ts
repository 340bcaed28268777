/**
 * slice: x[start:end:step] along some axes, with ONNX Slice semantics (negative starts/ends count
 * from the end, out-of-range values are clamped, negative steps walk backwards; ±Infinity means
 * "to the end"). Lowered to one ONNX Slice.
 *
 * VJP: the gradient is scattered back into zeros of the input's shape, one sliced axis at a time:
 * for step k > 1, zeros are interleaved (reshape to [..., n, 1, ...], pad to [..., n, k, ...],
 * reshape to [..., n k, ...], crop); then `pad` puts it at its offset. A negative step first reverses
 * the gradient along the axis (a slice with step -1) and continues with step |k| from the last
 * selected index.
 *
 * A symbolic dimension can only be kept whole (start 0, end Infinity, step 1).
 *
 * ONNX and numpy/Python differ in one corner: with a negative step, a start below -dim is clamped to
 * index 0 by ONNX (selecting it) but gives an empty slice in numpy. This op follows ONNX.
 *
 * @example
 *   const y = slice(x, [1], [3], [1]);              // x[:, 1:3]
 *   const r = slice(x, [-1], [-Infinity], [0], [-1]); // x reversed along axis 0
 */
import { apply1, registerOp, scalarConst } from '../trace.ts';
import type { Dim, Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { broadcastTo } from './broadcast.ts';
import { pad } from './pad.ts';
import { reshape } from './reshape.ts';

const BIG = Number.MAX_SAFE_INTEGER;
const toInt = (v: number): number => (v >= BIG ? BIG : v <= -BIG ? -BIG : v);

/** Selected range of one axis: first index, count, step (ONNX Slice clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): { first: number; count: number } {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return { first: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  s = clamp(s, 0, dim - 1);
  e = clamp(e, -1, dim - 1);
  return { first: s, count: Math.max(0, Math.ceil((s - e) / -step)) };
}

interface SliceAttrs {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

registerOp({
  name: 'slice',
  infer([x], attrs) {
    const { starts, ends, axes, steps } = attrs as unknown as SliceAttrs;
    if (starts.length !== axes.length || ends.length !== axes.length || steps.length !== axes.length) {
      throw new Error(
        `starts, ends, axes and steps need the same length, got ${starts.length}, ${ends.length}, ${axes.length}, ${steps.length}`,
      );
    }
    if (new Set(axes).size !== axes.length) throw new Error(`axes [${axes.join(', ')}] repeat an axis`);
    const shape: Dim[] = [...x.shape];
    axes.forEach((a, j) => {
      const [s, e, k] = [starts[j], ends[j], steps[j]];
      if (
        Number.isNaN(s) ||
        Number.isNaN(e) ||
        !(Number.isInteger(s) || Math.abs(s) === Infinity) ||
        !(Number.isInteger(e) || Math.abs(e) === Infinity)
      ) {
        throw new Error(`starts and ends must be integers or ±Infinity, got start ${s} and end ${e} for axis ${a}`);
      }
      if (!Number.isInteger(k) || k === 0) throw new Error(`steps must be non-zero integers, got ${k} for axis ${a}`);
      const d = x.shape[a];
      if (typeof d !== 'number') {
        if (s === 0 && e >= 2 ** 31 - 1 && k === 1) return;
        throw new Error(
          `symbolic dimension ${a} ('${d}') can only be kept whole (start 0, end Infinity, step 1), got start ${s}, end ${e}, step ${k}`,
        );
      }
      shape[a] = sliceRange(d, s, e, k).count;
    });
    return [{ shape, dtype: x.dtype }];
  },
  lower(ctx, node) {
    const { starts, ends, axes, steps } = node.attrs as unknown as SliceAttrs;
    ctx.emit(
      'Slice',
      [
        ctx.name(node.inputs[0]),
        ctx.constInt64(starts.map(toInt)),
        ctx.constInt64(ends.map(toInt)),
        ctx.constInt64(axes),
        ctx.constInt64(steps),
      ],
      {},
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const { starts, ends, axes, steps } = node.attrs as unknown as SliceAttrs;
    let gx = g;
    for (let j = 0; j < axes.length; j++) {
      const a = axes[j],
        D = x.shape[a];
      if (typeof D !== 'number') continue; // kept whole
      const { first, count: n } = sliceRange(D, starts[j], ends[j], steps[j]);
      if (n === 0) return [broadcastTo(scalarConst(0), x.shape, x)];
      let lo = first,
        k = steps[j];
      if (k < 0) {
        gx = slice(gx, [-1], [-Infinity], [a], [-1]);
        lo = first + (n - 1) * k;
        k = -k;
      }
      let len = n;
      if (k > 1) {
        const s = gx.shape;
        gx = reshape(gx, [...s.slice(0, a + 1), 1, ...s.slice(a + 1)]);
        const pads = new Array<number>(2 * gx.rank).fill(0);
        pads[gx.rank + a + 1] = k - 1;
        gx = reshape(pad(gx, pads), [...s.slice(0, a), n * k, ...s.slice(a + 1)]);
        len = Math.min(n * k, D - lo);
        if (len < n * k) gx = slice(gx, [0], [len], [a]);
      }
      const pads = new Array<number>(2 * gx.rank).fill(0);
      pads[a] = lo;
      pads[gx.rank + a] = D - lo - len;
      gx = pad(gx, pads);
    }
    return [gx];
  },
});

/**
 * x[starts:ends:steps] along `axes` (default 0, 1, ...), ONNX Slice semantics; steps default to 1.
 */
export function slice(
  x: Value,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Value {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => checkAxis('slice', x, a));
  return apply1('slice', [x], {
    starts: [...starts],
    ends: [...ends],
    axes: ax,
    steps: steps ? [...steps] : starts.map(() => 1),
  });
}
