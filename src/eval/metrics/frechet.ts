/**
 * Fréchet distance between Gaussians fitted to two feature sets (Dowson & Landau 1982; the FID of Heusel
 * et al. 2017, eq. 6):
 *     d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)),
 * with tr (S_1 S_2)^(1/2) = tr (S_1^(1/2) S_2 S_1^(1/2))^(1/2), a symmetric PSD matrix, so both square roots
 * come from the Jacobi eigen-decomposition of ./symmetric_eigen.ts (no general sqrtm needed).
 * Covariances use the unbiased (n - 1) normalisation, like numpy.cov in pytorch-fid.
 *
 * @example
 *   const a = gaussianStats(featuresOfSamples), b = gaussianStats(featuresOfData);
 *   frechetDistance(a, b);    // "FID" on these features
 */
import { sqrtPsd, symmetricEigen } from './symmetric_eigen.ts';

/** Mean and covariance (row-major [d, d]) of a feature set, float64. */
export interface GaussianStats {
  mean: Float64Array;
  cov: Float64Array;
  dim: number;
  n: number;
}

/**
 * Mean and unbiased covariance of n feature rows of dimension d (a row-major Float32Array/Float64Array).
 * @example gaussianStats(features.data, 64)
 */
export function gaussianStats(features: ArrayLike<number>, dim: number): GaussianStats {
  if (!(Number.isInteger(dim) && dim >= 1) || features.length % dim !== 0) {
    throw new Error(`gaussianStats: ${features.length} values are not rows of dimension ${dim}`);
  }
  const n = features.length / dim;
  if (n < 2) throw new Error(`gaussianStats: need at least 2 feature rows, got ${n}`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i] += features[r * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < dim; i++) c[i] = features[r * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = c[i];
      for (let j = i; j < dim; j++) cov[i * dim + j] += ci * c[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / (n - 1);
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return { mean, cov, dim, n };
}

/**
 * Squared Fréchet distance between N(mean1, cov1) and N(mean2, cov2) (see the module doc).
 * @example frechetDistance({ mean: [0], cov: [1], dim: 1 }, { mean: [1], cov: [4], dim: 1 })  // 1 + (1 - 2)^2 = 2
 */
export function frechetDistance(
  a: { mean: ArrayLike<number>; cov: ArrayLike<number>; dim: number },
  b: { mean: ArrayLike<number>; cov: ArrayLike<number>; dim: number },
): number {
  const d = a.dim;
  if (b.dim !== d) throw new Error(`frechetDistance: feature dimensions differ (${d} vs ${b.dim})`);
  if (a.mean.length !== d || b.mean.length !== d || a.cov.length !== d * d || b.cov.length !== d * d) {
    throw new Error(`frechetDistance: means must have ${d} entries and covariances ${d} x ${d}`);
  }
  let meanTerm = 0,
    tr = 0;
  for (let i = 0; i < d; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    tr += a.cov[i * d + i] + b.cov[i * d + i];
  }
  // tr (S1^(1/2) S2 S1^(1/2))^(1/2) = sum of sqrt of the eigenvalues of that symmetric PSD matrix
  const r = sqrtPsd(a.cov, d);
  const m = new Float64Array(d * d),
    rs = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const rik = r[i * d + k];
      if (rik === 0) continue;
      for (let j = 0; j < d; j++) rs[i * d + j] += rik * b.cov[k * d + j];
    }
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const v = rs[i * d + k];
      if (v === 0) continue;
      for (let j = 0; j < d; j++) m[i * d + j] += v * r[k * d + j];
    }
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++) {
      const s = 0.5 * (m[i * d + j] + m[j * d + i]);
      m[i * d + j] = m[j * d + i] = s;
    }
  const { values } = symmetricEigen(m, d);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(v, 0));
  return meanTerm + tr - 2 * trSqrt;
}
