/**
 * Sliced Wasserstein distance between two point sets (Rabin, Peyré, Delon & Bernot 2011, "Wasserstein
 * barycenter and its application to texture mixing", sec. 3; Bonneel et al. 2015, eq. 6):
 *     SW_p(mu, nu)^p = E_{theta ~ U(S^{D-1})} W_p^p(theta#mu, theta#nu),
 * estimated with L random directions (normalised Gaussian vectors from a seeded Philox). Each 1-D
 * distance is exact for empirical measures of any sizes n and m (uniform weights):
 *     W_p^p = int_0^1 |F^-1(u) - G^-1(u)|^p du,
 * integrated piecewise over the merged breakpoints {i/n} and {j/m} of the two quantile functions.
 * The standard error is the Monte-Carlo error over directions (delta method through the 1/p power).
 *
 * @example
 *   const { distance, se } = slicedWasserstein(samples, reference, { projections: 256, seed: 0 });
 */
import { Philox, type NDArray } from '../../engine/index.ts';

export interface SlicedWassersteinOptions {
  /** Number of random directions L (default 256). */
  projections?: number;
  /** Order p >= 1 (default 2). */
  p?: number;
  /** Seed of the directions (default 0). */
  seed?: number;
}

export interface SlicedWassersteinResult {
  /** SW_p estimate. */
  distance: number;
  /** Monte-Carlo standard error over directions (null with one direction). */
  se: number | null;
  projections: number;
  p: number;
}

function rows(x: NDArray, what: string): [number, number] {
  if (x.ndim < 2 || x.shape[0] < 1)
    throw new Error(`slicedWasserstein: ${what} must be [n, d] points with n >= 1, got shape [${x.shape.join(', ')}]`);
  return [x.shape[0], x.size / x.shape[0]];
}

/**
 * Exact W_p^p between two 1-D empirical distributions given as *sorted* arrays (uniform weights).
 * @example wassersteinPow1d(Float64Array.of(0, 1), Float64Array.of(0, 1, 2), 1) // 0.5
 */
export function wassersteinPow1d(a: Float64Array, b: Float64Array, p: number): number {
  const n = a.length,
    m = b.length;
  let i = 0,
    j = 0,
    u = 0,
    acc = 0;
  while (i < n && j < m) {
    // the next breakpoint of either quantile function: (i+1)/n vs (j+1)/m, compared in integers
    const ci = (i + 1) * m,
      cj = (j + 1) * n;
    const next = ci <= cj ? (i + 1) / n : (j + 1) / m;
    const d = Math.abs(a[i] - b[j]);
    acc += (next - u) * (p === 1 ? d : p === 2 ? d * d : d ** p);
    u = next;
    if (ci <= cj) i++;
    if (cj <= ci) j++;
  }
  return acc;
}

/**
 * Sliced Wasserstein distance SW_p between point sets x [n, d] and y [m, d] (see the module doc).
 * @example slicedWasserstein(a, b, { projections: 128, p: 1, seed: 3 }).distance
 */
export function slicedWasserstein(x: NDArray, y: NDArray, o: SlicedWassersteinOptions = {}): SlicedWassersteinResult {
  const [n, d] = rows(x, 'x');
  const [m, d2] = rows(y, 'y');
  if (d !== d2) throw new Error(`slicedWasserstein: point dimensions differ (x has ${d}, y has ${d2})`);
  const L = o.projections ?? 256;
  if (!(Number.isInteger(L) && L >= 1))
    throw new Error(`slicedWasserstein: projections = ${L} must be a positive integer`);
  const p = o.p ?? 2;
  if (!(p >= 1 && Number.isFinite(p))) throw new Error(`slicedWasserstein: p = ${p} must be a finite number >= 1`);
  const dirs = new Philox(o.seed ?? 0).fold(0x51ced).normal([L, d]).data;
  const px = new Float64Array(n),
    py = new Float64Array(m);
  const vals = new Float64Array(L);
  for (let l = 0; l < L; l++) {
    let norm = 0;
    for (let k = 0; k < d; k++) norm += dirs[l * d + k] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x.data[i * d + k] * dirs[l * d + k];
      px[i] = s / norm;
    }
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += y.data[j * d + k] * dirs[l * d + k];
      py[j] = s / norm;
    }
    px.sort();
    py.sort();
    vals[l] = wassersteinPow1d(px, py, p);
  }
  let mean = 0;
  for (const v of vals) mean += v;
  mean /= L;
  const distance = mean ** (1 / p);
  let se: number | null = null;
  if (L > 1) {
    let s = 0;
    for (const v of vals) s += (v - mean) ** 2;
    const seMean = Math.sqrt(s / (L - 1) / L);
    // delta method: d(mean^(1/p)) = (1/p) mean^(1/p - 1) d(mean)
    se = mean > 0 ? (seMean / p) * mean ** (1 / p - 1) : 0;
  }
  return { distance, se, projections: L, p };
}
