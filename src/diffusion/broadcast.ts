/**
 * Per-sample coefficients: multiply row b of an NDArray (shape [B, ...]) by coeff[b], the way diffusers
 * broadcasts `alphas_cumprod[timesteps]` (flattened, then unsqueezed to the sample's rank).
 *
 * @example
 *   perSample(NDArray.ones([2, 3]), [2, 3]);   // [[2, 2, 2], [3, 3, 3]]
 *   perSample(NDArray.ones([2, 3]), 0.5);      // every element times 0.5
 */
import { NDArray } from '../engine/ndarray.ts';

/** A scalar, or one value per leading-axis entry (batch element). */
export type Coeff = number | ArrayLike<number>;

/** Throw unless `c` is a scalar or has one entry per batch element of `x` (or exactly one entry). */
export function checkCoeff(c: Coeff, x: NDArray, name: string): void {
  if (typeof c === 'number') return;
  const B = x.ndim === 0 ? 1 : x.shape[0];
  if (c.length !== B && c.length !== 1) {
    throw new Error(
      `${name}: got ${c.length} values for a batch of ${B} (shape [${x.shape.join(', ')}]); pass one value per batch element or a single number`,
    );
  }
}

/** Map each element with a per-batch-element coefficient: out[b, ...] = f(x[b, ...], c[b]). */
export function mapPerSample(x: NDArray, c: Coeff, f: (v: number, c: number) => number): NDArray {
  if (typeof c === 'number' || c.length === 1) {
    const k = typeof c === 'number' ? c : c[0];
    return x.map((v) => f(v, k));
  }
  const B = x.shape[0];
  const per = x.size / B;
  const out = new NDArray(x.shape);
  for (let b = 0; b < B; b++) {
    const k = c[b];
    for (let i = b * per; i < (b + 1) * per; i++) out.data[i] = f(x.data[i], k);
  }
  return out;
}

/** x[b, ...] * c[b], rounded to float32 (a torch float32 multiply). */
export function perSample(x: NDArray, c: Coeff): NDArray {
  return mapPerSample(x, c, (v, k) => v * k);
}
