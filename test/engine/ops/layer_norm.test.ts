import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type NDArray,
  type Value,
  compile,
  grad,
  layerNorm,
  mul,
  sum,
  trace,
  type NormFormulation,
} from '../../../src/engine/index.ts';
import { assertClose, checkTorchCase, gradcheck, loadTorchCases, runFn, testData } from '../_gradcheck.ts';

/** Closed form per row of length m: (x - mean) / sqrt(biased var + eps) * w + b. */
function layerNormRef(x: NDArray, m: number, w: NDArray | null, b: NDArray | null, eps: number): Float32Array {
  const y = new Float32Array(x.size);
  for (let r = 0; r < x.size / m; r++) {
    let mu = 0,
      v = 0;
    for (let i = 0; i < m; i++) mu += x.data[r * m + i];
    mu /= m;
    for (let i = 0; i < m; i++) v += (x.data[r * m + i] - mu) ** 2;
    v /= m;
    for (let i = 0; i < m; i++)
      y[r * m + i] = ((x.data[r * m + i] - mu) / Math.sqrt(v + eps)) * (w ? w.data[i] : 1) + (b ? b.data[i] : 0);
  }
  return y;
}

const forms: NormFormulation[] = ['native', 'composite'];

test('layerNorm forward equals the closed form (last axis and last two axes; both formulations)', async () => {
  const x = testData([3, 2, 5], 1),
    w = testData([2, 5], 2),
    b = testData([2, 5], 3);
  for (const f of forms) {
    assertClose(
      await runFn((a, k, c) => layerNorm(a, [2, 5], k, c, 1e-5, f), [x, w, b]),
      layerNormRef(x, 10, w, b, 1e-5),
      1e-5,
      1e-5,
      f,
    );
    assertClose(
      await runFn((a) => layerNorm(a, 5, null, null, 1e-3, f), [x]),
      layerNormRef(x, 5, null, null, 1e-3),
      1e-5,
      1e-5,
      f,
    );
    const b5 = testData([5], 10);
    assertClose(
      await runFn((a, c) => layerNorm(a, 5, null, c, 1e-5, f), [x, b5]),
      layerNormRef(x, 5, null, b5, 1e-5),
      1e-5,
      1e-5,
      `${f}, bias only`,
    );
  }
});

test('layerNorm gradients match finite differences (native VJP by hand, composite by autodiff)', async () => {
  for (const f of forms) {
    await gradcheck(
      (a, k, c) => layerNorm(a, 4, k, c, 1e-5, f),
      [testData([3, 4], 4), testData([4], 5), testData([4], 6)],
    );
    await gradcheck((a) => layerNorm(a, [2, 3], null, null, 1e-5, f), [testData([2, 2, 3], 7)]);
    await gradcheck((a, c) => layerNorm(a, 3, null, c, 1e-5, f), [testData([2, 3], 11), testData([3], 12)]);
  }
});

test('layerNorm forward and VJP match PyTorch (both formulations)', async () => {
  for (const c of loadTorchCases('layer_norm.json')) {
    const a = c.attrs as { normalizedShape: number[]; eps: number };
    for (const f of forms)
      await checkTorchCase((x, w, b) => layerNorm(x, a.normalizedShape, w, b, a.eps, f), c, 1e-4, 1e-4);
  }
});

test('layerNorm keeps a symbolic batch dimension', async () => {
  const g = trace(
    (x: Value, w: Value) => {
      const y = layerNorm(x, 4, w);
      return [y, ...grad(sum(mul(y, y)), [x, w])];
    },
    [
      { name: 'x', shape: ['batch', 3, 4] },
      { name: 'w', shape: [4] },
    ],
  );
  const x = testData([2, 3, 4], 8),
    w = testData([4], 9);
  const [y, dx, dw] = await (await compile(g)).run([x, w]);
  assertClose(y, layerNormRef(x, 4, w, null, 1e-5), 1e-5, 1e-5);
  assert.deepEqual([...dx.shape], [2, 3, 4]);
  assert.deepEqual([...dw.shape], [4]);
});

test('layerNorm bad input names the op, the shapes and the expected shape', () => {
  assert.throws(
    () => trace((x: Value) => layerNorm(x, [3]), [{ name: 'x', shape: [2, 4] }]),
    (e: Error) => /layer_norm/.test(e.message) && /\[2, 4\]/.test(e.message) && /normalizedShape \[3\]/.test(e.message),
  );
  assert.throws(
    () =>
      trace(
        (x: Value, w: Value) => layerNorm(x, [4], w),
        [
          { name: 'x', shape: [2, 4] },
          { name: 'w', shape: [3] },
        ],
      ),
    (e: Error) =>
      /layer_norm/.test(e.message) && /weight must have shape \[4\]/.test(e.message) && /\[3\]/.test(e.message),
  );
});
