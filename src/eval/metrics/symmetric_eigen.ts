/**
 * Eigen-decomposition of a real symmetric matrix by the cyclic Jacobi method (Jacobi 1846; Golub & Van Loan,
 * "Matrix Computations", 4th ed., sec. 8.5.2 Algorithm 8.5.2 `symSchur2` and 8.5.3 cyclic-by-row sweeps),
 * in float64: A = V diag(lambda) V^T with V orthogonal. Each rotation zeroes one off-diagonal pair
 * (p, q) with (c, s) from tau = (a_qq - a_pp) / (2 a_pq), t = sign(tau) / (|tau| + sqrt(1 + tau^2));
 * sweeps repeat until the off-diagonal Frobenius norm is below 1e-15 of the whole norm (quadratic convergence).
 * Used for matrix square roots of covariances (Fréchet distance); fine up to a few hundred rows.
 *
 * @example
 *   const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);   // values [1, 3] (ascending)
 *   const r = sqrtPsd(Float64Array.of(4, 0, 0, 9), 2);                             // [2, 0, 0, 3]
 */

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major [n, n] matrix (column k belongs to values[k]). */
  vectors: Float64Array;
  /** Jacobi sweeps used. */
  sweeps: number;
}

/**
 * Eigenvalues and eigenvectors of the symmetric n x n matrix `a` (row-major; only symmetry within 1e-8
 * relative is accepted).
 * @example symmetricEigen(Float64Array.of(2, -1, -1, 2), 2).values  // [1, 3]
 */
export function symmetricEigen(a: ArrayLike<number>, n: number, maxSweeps = 100): SymmetricEigen {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`symmetricEigen: n = ${n} must be a positive integer`);
  if (a.length !== n * n)
    throw new Error(`symmetricEigen: the matrix has ${a.length} entries, expected ${n} x ${n} = ${n * n}`);
  const A = Float64Array.from(a);
  let total = 0;
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(A[i])) throw new Error(`symmetricEigen: entry ${i} = ${A[i]} is not finite`);
    total += A[i] * A[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const x = A[i * n + j],
        y = A[j * n + i];
      if (Math.abs(x - y) > 1e-8 * Math.sqrt(total) + 1e-300)
        throw new Error(`symmetricEigen: the matrix is not symmetric (a[${i}][${j}] = ${x}, a[${j}][${i}] = ${y})`);
      A[i * n + j] = A[j * n + i] = 0.5 * (x + y);
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const tol = 1e-15 * Math.sqrt(total);
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += A[i * n + j] ** 2;
    if (Math.sqrt(2 * off) <= tol) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        // Golub & Van Loan Algorithm 8.5.1 (symSchur2)
        const tau = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t),
          s = t * c;
        // A <- J^T A J with J the rotation in the (p, q) plane
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p],
            akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k],
            aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p],
            vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  if (sweeps === maxSweeps) throw new Error(`symmetricEigen: no convergence after ${maxSweeps} Jacobi sweeps`);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[i * n + i] - A[j * n + j]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let r = 0; r < n; r++) vectors[r * n + k] = V[r * n + order[k]];
  return { values, vectors, sweeps };
}

/**
 * Square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(lambda, 0))) V^T (eigenvalues
 * below zero by rounding are clamped to 0).
 * @example sqrtPsd(Float64Array.of(4, 0, 0, 9), 2)  // [2, 0, 0, 3]
 */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(values[k], 0));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + k] * r;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * vectors[j * n + k];
    }
  }
  return out;
}
