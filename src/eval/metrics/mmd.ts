/**
 * Maximum mean discrepancy with an RBF kernel (Gretton et al. 2012, eq. 3, the unbiased U-statistic
 * MMD^2_u), bandwidth by the median heuristic on the pooled sample (Gretton et al. 2012, sec. 8).
 *
 * @example
 *   const d = mmdRbf(samples, fresh);   // ~0 when both come from the same distribution
 */
import type { NDArray } from '../../engine/index.ts';

function rows(x: NDArray): [number, number] {
  if (x.ndim < 2) throw new Error(`mmd: expected [n, d] points, got shape [${x.shape.join(', ')}]`);
  return [x.shape[0], x.size / x.shape[0]];
}

function sqDist(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const t = a[i * d + k] - b[j * d + k];
    s += t * t;
  }
  return s;
}

/** Median of pairwise squared distances of the pooled points (at most 1000 points used). */
export function medianSqDistance(x: NDArray, y: NDArray): number {
  const [n, d] = rows(x);
  const [m] = rows(y);
  const pool = new Float32Array((Math.min(n, 500) + Math.min(m, 500)) * d);
  pool.set(x.data.subarray(0, Math.min(n, 500) * d), 0);
  pool.set(y.data.subarray(0, Math.min(m, 500) * d), Math.min(n, 500) * d);
  const p = pool.length / d;
  const ds: number[] = [];
  for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) ds.push(sqDist(pool, i, pool, j, d));
  ds.sort((a, b) => a - b);
  return ds[Math.floor(ds.length / 2)];
}

/** Unbiased MMD^2 between point sets x [n, d] and y [m, d] with k(a, b) = exp(-|a-b|^2 / (2 h)). */
export function mmdRbf(x: NDArray, y: NDArray, bandwidthSq?: number): number {
  const [n, d] = rows(x);
  const [m, d2] = rows(y);
  if (d !== d2) throw new Error(`mmd: point dimensions differ (${d} vs ${d2})`);
  if (n < 2 || m < 2) throw new Error('mmd: need at least 2 points in each set');
  const h = bandwidthSq ?? medianSqDistance(x, y);
  const k = (a: Float32Array, i: number, b: Float32Array, j: number) => Math.exp(-sqDist(a, i, b, j, d) / (2 * h));
  let kxx = 0,
    kyy = 0,
    kxy = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kxx += k(x.data, i, x.data, j);
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) kyy += k(y.data, i, y.data, j);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) kxy += k(x.data, i, y.data, j);
  return (2 * kxx) / (n * (n - 1)) + (2 * kyy) / (m * (m - 1)) - (2 * kxy) / (n * m);
}
