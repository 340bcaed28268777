import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type NDArray,
  type Value,
  compile,
  grad,
  groupNorm,
  groupNormSilu,
  mul,
  sum,
  trace,
  type NormFormulation,
} from '../../../src/engine/index.ts';
import { assertClose, checkTorchCase, gradcheck, loadTorchCases, runFn, testData } from '../_gradcheck.ts';

/** Closed form (Wu & He 2018 eqs. 1-3): statistics per (n, group) over its channels and positions. */
function groupNormRef(x: NDArray, G: number, w: NDArray | null, b: NDArray | null, eps: number): Float32Array {
  const [N, C] = x.shape,
    S = x.size / (N * C),
    M = (C / G) * S;
  const y = new Float32Array(x.size);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < G; g++) {
      const off = (n * C + g * (C / G)) * S;
      let mu = 0,
        v = 0;
      for (let i = 0; i < M; i++) mu += x.data[off + i];
      mu /= M;
      for (let i = 0; i < M; i++) v += (x.data[off + i] - mu) ** 2;
      v /= M;
      for (let i = 0; i < M; i++) {
        const c = g * (C / G) + Math.floor(i / S);
        y[off + i] = ((x.data[off + i] - mu) / Math.sqrt(v + eps)) * (w ? w.data[c] : 1) + (b ? b.data[c] : 0);
      }
    }
  return y;
}

const forms: NormFormulation[] = ['native', 'composite'];

test('groupNorm forward equals the closed form (both formulations, with and without affine)', async () => {
  const x = testData([2, 6, 3, 2], 1),
    w = testData([6], 2),
    b = testData([6], 3);
  for (const f of forms) {
    assertClose(
      await runFn((a, k, c) => groupNorm(a, 3, k, c, 1e-5, f), [x, w, b]),
      groupNormRef(x, 3, w, b, 1e-5),
      1e-5,
      1e-5,
      f,
    );
    assertClose(
      await runFn((a) => groupNorm(a, 2, null, null, 1e-6, f), [x]),
      groupNormRef(x, 2, null, null, 1e-6),
      1e-5,
      1e-5,
      f,
    );
  }
});

test('groupNorm gradients match finite differences', async () => {
  for (const f of forms)
    await gradcheck(
      (a, k, c) => groupNorm(a, 2, k, c, 1e-5, f),
      [testData([2, 4, 2, 2], 4), testData([4], 5), testData([4], 6)],
    );
});

test('groupNorm without affine, or with weight only: gradients match finite differences', async () => {
  for (const f of forms) {
    await gradcheck((a) => groupNorm(a, 2, null, null, 1e-5, f), [testData([2, 4, 3, 2], 14)]);
    await gradcheck((a, k) => groupNorm(a, 4, k, null, 1e-5, f), [testData([1, 8, 2, 2], 15), testData([8], 16)]);
  }
});

const siluRef = (v: Float32Array): Float32Array => v.map((z) => z / (1 + Math.exp(-z)));

test('groupNormSilu forward equals silu of the closed form (both formulations)', async () => {
  const x = testData([2, 6, 3, 2], 10),
    w = testData([6], 11),
    b = testData([6], 12);
  for (const f of forms) {
    assertClose(
      await runFn((a, k, c) => groupNormSilu(a, 3, k, c, 1e-5, f), [x, w, b]),
      siluRef(groupNormRef(x, 3, w, b, 1e-5)),
      1e-5,
      1e-5,
      f,
    );
    assertClose(
      await runFn((a) => groupNormSilu(a, 2, null, null, 1e-5, f), [x]),
      siluRef(groupNormRef(x, 2, null, null, 1e-5)),
      1e-5,
      1e-5,
      f,
    );
  }
});

test('groupNormSilu gradients match finite differences (affine, none, weight only)', async () => {
  for (const f of forms) {
    await gradcheck(
      (a, k, c) => groupNormSilu(a, 2, k, c, 1e-5, f),
      [testData([2, 4, 2, 3], 17), testData([4], 18), testData([4], 19)],
    );
    await gradcheck((a) => groupNormSilu(a, 2, null, null, 1e-5, f), [testData([2, 4, 2, 2], 20)]);
    await gradcheck((a, k) => groupNormSilu(a, 1, k, null, 1e-5, f), [testData([2, 3, 2, 2], 21), testData([3], 22)]);
  }
});

test('groupNormSilu: the hand-written VJP equals autodiff of the composite on a UNet-sized block (symbolic batch)', async () => {
  const run = async (f: NormFormulation): Promise<NDArray[]> => {
    const g = trace(
      (x: Value, w: Value, b: Value, a: Value) => {
        const y = groupNormSilu(x, 8, w, b, 1e-5, f);
        return [y, ...grad(sum(mul(y, a)), [x, w, b])];
      },
      [
        { name: 'x', shape: ['batch', 32, 14, 14] },
        { name: 'w', shape: [32] },
        { name: 'b', shape: [32] },
        { name: 'a', shape: ['batch', 32, 14, 14] },
      ],
    );
    return (await compile(g)).run([
      testData([4, 32, 14, 14], 23, -3, 3),
      testData([32], 24),
      testData([32], 25),
      testData([4, 32, 14, 14], 26),
    ]);
  };
  const [native, composite] = [await run('native'), await run('composite')];
  native.forEach((v, i) => assertClose(v, composite[i], 1e-4, 1e-5, ['y', 'dx', 'dweight', 'dbias'][i]));
});

test('groupNorm forward and VJP match PyTorch (both formulations)', async () => {
  for (const c of loadTorchCases('group_norm.json')) {
    const a = c.attrs as { numGroups: number; eps: number };
    for (const f of forms) await checkTorchCase((x, w, b) => groupNorm(x, a.numGroups, w, b, a.eps, f), c, 1e-4, 1e-4);
  }
});

test('groupNorm keeps a symbolic batch dimension', async () => {
  const g = trace(
    (x: Value, w: Value, b: Value) => {
      const y = groupNorm(x, 2, w, b);
      assert.deepEqual([...y.shape], ['batch', 4, 3, 3]);
      return [y, ...grad(sum(mul(y, y)), [x, w, b])];
    },
    [
      { name: 'x', shape: ['batch', 4, 3, 3] },
      { name: 'w', shape: [4] },
      { name: 'b', shape: [4] },
    ],
  );
  const x = testData([3, 4, 3, 3], 7),
    w = testData([4], 8),
    b = testData([4], 9);
  const [y] = await (await compile(g)).run([x, w, b]);
  assertClose(y, groupNormRef(x, 2, w, b, 1e-5), 1e-5, 1e-5);
});

test('groupNorm bad input names the op, the shapes and the allowed values', () => {
  assert.throws(
    () => trace((x: Value) => groupNorm(x, 3), [{ name: 'x', shape: [2, 4, 3, 3] }]),
    (e: Error) =>
      /group_norm/.test(e.message) &&
      /\[2, 4, 3, 3\]/.test(e.message) &&
      /divisor of the 4 channels, got 3/.test(e.message),
  );
  assert.throws(
    () =>
      trace(
        (x: Value, w: Value) => groupNorm(x, 2, w),
        [
          { name: 'x', shape: [2, 4, 3, 3] },
          { name: 'w', shape: [2] },
        ],
      ),
    (e: Error) => /group_norm/.test(e.message) && /weight must have shape \[4\]/.test(e.message),
  );
});
