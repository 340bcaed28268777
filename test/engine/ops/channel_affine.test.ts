import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelAffine, compile, grad, mul, sum, trace, type NDArray, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';

/** y[n, c, i] = x[n, c, i] * s + t with s, t per channel ([C]) or per sample and channel ([N, C]). */
function affineRef(x: NDArray, s: NDArray, t: NDArray | null): Float32Array {
  const [N, C] = x.shape,
    L = x.size / (N * C);
  const y = new Float32Array(x.size);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const k = s.ndim === 1 ? c : n * C + c;
      for (let i = 0; i < L; i++)
        y[(n * C + c) * L + i] = x.data[(n * C + c) * L + i] * s.data[k] + (t ? t.data[k] : 0);
    }
  return y;
}

test('channelAffine equals x * scale + shift per channel and per sample (with and without shift)', async () => {
  const x = testData([3, 4, 2, 5], 1);
  for (const shape of [[4], [3, 4]]) {
    const s = testData(shape, 2),
      t = testData(shape, 3);
    assertClose(
      await runFn((a, b, c) => channelAffine(a, b, c), [x, s, t]),
      affineRef(x, s, t),
      1e-6,
      1e-6,
      `[${shape}] with shift`,
    );
    assertClose(
      await runFn((a, b) => channelAffine(a, b), [x, s]),
      affineRef(x, s, null),
      1e-6,
      1e-6,
      `[${shape}] without shift`,
    );
  }
});

test('channelAffine gradients match finite differences', async () => {
  await gradcheck((a, b, c) => channelAffine(a, b, c), [testData([2, 3, 2, 2], 4), testData([3], 5), testData([3], 6)]);
  await gradcheck(
    (a, b, c) => channelAffine(a, b, c),
    [testData([2, 3, 4], 7), testData([2, 3], 8), testData([2, 3], 9)],
  );
});

test('channelAffine keeps a symbolic batch with per-sample coefficients', async () => {
  const g = trace(
    (x: Value, s: Value, t: Value) => {
      const y = channelAffine(x, s, t);
      assert.deepEqual([...y.shape], ['batch', 4, 3, 3]);
      return [y, ...grad(sum(mul(y, y)), [x, s, t])];
    },
    [
      { name: 'x', shape: ['batch', 4, 3, 3] },
      { name: 's', shape: ['batch', 4] },
      { name: 't', shape: ['batch', 4] },
    ],
  );
  const x = testData([5, 4, 3, 3], 10),
    s = testData([5, 4], 11),
    t = testData([5, 4], 12);
  const [y] = await (await compile(g)).run([x, s, t]);
  assertClose(y, affineRef(x, s, t), 1e-6, 1e-6);
});

test('channelAffine bad coefficients name the op and the shapes', () => {
  assert.throws(
    () =>
      trace(
        (x: Value, s: Value) => channelAffine(x, s),
        [
          { name: 'x', shape: [2, 4, 3] },
          { name: 's', shape: [3] },
        ],
      ),
    (e: Error) => /channel_affine/.test(e.message) && /scale must have shape \[4\] or \[2, 4\]/.test(e.message),
  );
});
