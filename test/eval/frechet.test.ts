import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Philox } from '../../src/engine/index.ts';
import { symmetricEigen, sqrtPsd } from '../../src/eval/metrics/symmetric_eigen.ts';
import { frechetDistance, gaussianStats } from '../../src/eval/metrics/frechet.ts';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('Jacobi: 2x2 eigenvalues equal the closed form (a+c)/2 -+ sqrt(((a-c)/2)^2 + b^2)', () => {
  for (const [a, b, c] of [
    [2, 1, 2],
    [1, 1e-3, 1],
    [5, -2, -1],
    [0, 3, 0],
    [1e6, 1, 1e-6],
  ]) {
    const { values, vectors } = symmetricEigen([a, b, b, c], 2);
    const h = Math.sqrt(((a - c) / 2) ** 2 + b * b);
    close(values[0], (a + c) / 2 - h, 1e-12 * Math.max(1, Math.abs(a), Math.abs(c)), 'lambda_min');
    close(values[1], (a + c) / 2 + h, 1e-12 * Math.max(1, Math.abs(a), Math.abs(c)), 'lambda_max');
    // A v = lambda v
    for (let k = 0; k < 2; k++) {
      const v = [vectors[k], vectors[2 + k]];
      close(a * v[0] + b * v[1], values[k] * v[0], 1e-9 * Math.max(1, Math.abs(a)), 'Av = lambda v');
    }
  }
});

test('Jacobi: tridiagonal Toeplitz (2, -1) has lambda_k = 2 - 2 cos(k pi / (n + 1)) and sine eigenvectors', () => {
  const n = 12;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    A[i * n + i] = 2;
    if (i + 1 < n) A[i * n + i + 1] = A[(i + 1) * n + i] = -1;
  }
  const { values, vectors } = symmetricEigen(A, n);
  for (let k = 1; k <= n; k++) {
    close(values[k - 1], 2 - 2 * Math.cos((k * Math.PI) / (n + 1)), 1e-13, `lambda_${k}`);
    // eigenvector sin(j k pi / (n+1)) up to sign and normalisation
    const ref = Array.from({ length: n }, (_, j) => Math.sin(((j + 1) * k * Math.PI) / (n + 1)));
    const norm = Math.hypot(...ref);
    const sign = Math.sign(vectors[0 * n + (k - 1)]) * Math.sign(ref[0]);
    for (let j = 0; j < n; j++) close(vectors[j * n + (k - 1)], (sign * ref[j]) / norm, 1e-10, `v_${k}[${j}]`);
  }
});

test('Jacobi: a random symmetric 30x30 matrix is reconstructed by V diag(lambda) V^T with V orthogonal; eigvalsh (torch) agrees', () => {
  const n = 30;
  const z = new Philox(9).normal([n, n]).data;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = z[i * n + j] + z[j * n + i];
  const { values, vectors: V } = symmetricEigen(A, n);
  let worstRec = 0,
    worstOrth = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let rec = 0,
        orth = 0;
      for (let k = 0; k < n; k++) {
        rec += V[i * n + k] * values[k] * V[j * n + k];
        orth += V[k * n + i] * V[k * n + j];
      }
      worstRec = Math.max(worstRec, Math.abs(rec - A[i * n + j]));
      worstOrth = Math.max(worstOrth, Math.abs(orth - (i === j ? 1 : 0)));
    }
  assert.ok(worstRec < 1e-12 && worstOrth < 1e-13, `reconstruction ${worstRec}, orthogonality ${worstOrth}`);
  const fx = JSON.parse(readFileSync(new URL('../fixtures/eval/frechet.json', import.meta.url), 'utf8'));
  const ev = symmetricEigen(fx.cov1, fx.d).values;
  fx.eigvalsh_cov1.forEach((v: number, k: number) =>
    close(ev[k], v, 1e-12 * Math.max(1, Math.abs(v)), `eigvalsh ${k}`),
  );
  assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), /not symmetric \(a\[0\]\[1\] = 2, a\[1\]\[0\] = 3\)/);
});

test('sqrtPsd squares back to the matrix', () => {
  const R = sqrtPsd([4, 2, 2, 3], 2);
  const sq = [
    R[0] * R[0] + R[1] * R[2],
    R[0] * R[1] + R[1] * R[3],
    R[2] * R[0] + R[3] * R[2],
    R[2] * R[1] + R[3] * R[3],
  ];
  [4, 2, 2, 3].forEach((v, i) => close(sq[i], v, 1e-12, `entry ${i}`));
});

test('Fréchet distance: closed forms (1-D, commuting covariances, identical sets) and the torch reference', () => {
  // 1-D: (mu1 - mu2)^2 + (s1 - s2)^2
  close(
    frechetDistance({ mean: [1], cov: [4], dim: 1 }, { mean: [-0.5], cov: [0.25], dim: 1 }),
    2.25 + 1.5 ** 2,
    1e-12,
    '1-D',
  );
  // diagonal covariances commute: sum (sqrt a_i - sqrt b_i)^2
  const a = { mean: [0, 0, 0], cov: [1, 0, 0, 0, 4, 0, 0, 0, 9], dim: 3 };
  const b = { mean: [1, 0, 2], cov: [4, 0, 0, 0, 4, 0, 0, 0, 1], dim: 3 };
  close(frechetDistance(a, b), 5 + 1 + 0 + 4, 1e-12, 'diagonal');
  const fx = JSON.parse(readFileSync(new URL('../fixtures/eval/frechet.json', import.meta.url), 'utf8'));
  const s1 = gaussianStats(Float64Array.from(fx.X), fx.d),
    s2 = gaussianStats(Float64Array.from(fx.Y), fx.d);
  s1.mean.forEach((v, i) => close(v, fx.mu1[i], 1e-12, `mean ${i}`));
  s1.cov.forEach((v, i) => close(v, fx.cov1[i], 1e-10, `cov ${i}`));
  close(frechetDistance(s1, s2), fx.fid, 1e-9 * fx.fid, 'FID vs torch (eigvals of S1 S2)');
  close(frechetDistance(s1, s1), 0, 1e-9, 'FID(X, X)');
  assert.throws(() => frechetDistance(a, { mean: [0], cov: [1], dim: 1 }), /feature dimensions differ \(3 vs 1\)/);
});
