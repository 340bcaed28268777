/** Plain-loop references for the shape/reduction op tests (row-major index arithmetic). */
import { NDArray } from '../../../src/engine/index.ts';

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Multi-index of flat position i. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const st = strides(shape);
  return st.map((s, k) => Math.floor(i / s) % shape[k]);
}

/** Reduce over `axes` with an associative fold (keepDims shape). */
export function reduceRef(
  x: NDArray,
  axes: number[],
  init: number,
  f: (acc: number, v: number) => number,
  fin: (acc: number, n: number) => number = (a) => a,
): NDArray {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Float64Array(outShape.reduce((a, b) => a * b, 1)).fill(init);
  const ost = strides(outShape);
  for (let i = 0; i < x.size; i++) {
    const idx = unravel(i, x.shape);
    const o = idx.reduce((a, v, k) => a + (axes.includes(k) ? 0 : v * ost[k]), 0);
    acc[o] = f(acc[o], x.data[i]);
  }
  const n = axes.reduce((a, k) => a * x.shape[k], 1);
  return new NDArray(
    outShape,
    Float32Array.from(acc, (a) => fin(a, n)),
  );
}

/** softmax along `axis` by a plain loop (max-shifted, in float64). */
export function softmaxRef(
  x: { shape: readonly number[]; data: Float32Array },
  axis: number,
  log = false,
): Float32Array {
  const out = new Float32Array(x.data.length);
  const st = strides(x.shape)[axis],
    n = x.shape[axis];
  for (let i = 0; i < x.data.length; i++) {
    if (unravel(i, x.shape)[axis] !== 0) continue;
    let m = -Infinity;
    for (let k = 0; k < n; k++) m = Math.max(m, x.data[i + k * st]);
    let z = 0;
    for (let k = 0; k < n; k++) z += Math.exp(x.data[i + k * st] - m);
    for (let k = 0; k < n; k++)
      out[i + k * st] = log ? x.data[i + k * st] - m - Math.log(z) : Math.exp(x.data[i + k * st] - m) / z;
  }
  return out;
}
