import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matmul, trace } from '../../../src/engine/index.ts';
import { gradcheck, runFn, testData, assertClose } from '../_gradcheck.ts';

test('matmul forward equals the textbook triple loop', async () => {
  const a = testData([2, 3, 4], 1),
    b = testData([4, 5], 2);
  const y = await runFn(matmul, [a, b]);
  assert.deepEqual([...y.shape], [2, 3, 5]);
  const ref = new Float32Array(30);
  for (let n = 0; n < 2; n++)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += a.data[n * 12 + i * 4 + k] * b.data[k * 5 + j];
        ref[n * 15 + i * 5 + j] = s;
      }
  assertClose(y, ref, 1e-5, 1e-6);
});

test('matmul gradient (with batch broadcasting) matches finite differences', async () => {
  await gradcheck(matmul, [testData([2, 3, 4], 3), testData([4, 5], 4)]);
  await gradcheck(matmul, [testData([3, 4], 5), testData([2, 4, 2], 6)]);
});

test('matmul shape mismatch names the op, both shapes and the caller', () => {
  assert.throws(
    () =>
      trace(matmul, [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [4, 5] },
      ]),
    (e: Error) =>
      /matmul/.test(e.message) &&
      /\[2, 3\]/.test(e.message) &&
      /\[4, 5\]/.test(e.message) &&
      /matmul\.test\.ts/.test(e.message),
  );
});
