import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, embedding, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

test('embedding with float indices picks table rows (indices truncated to int64)', async () => {
  const table = testData([5, 2], 1);
  const y = await runFn(embedding, [
    table,
    NDArray.from([
      [4, 0],
      [2.9, 4],
    ]),
  ]);
  assert.deepEqual([...y.shape], [2, 2, 2]);
  assertClose(
    y,
    [4, 0, 2, 4].flatMap((r) => [table.data[2 * r], table.data[2 * r + 1]]),
    0,
    0,
  );
});

test('embedding table gradient matches finite differences (repeats accumulate)', async () => {
  await gradcheck(embedding, [testData([4, 3], 2), NDArray.from([1, 3, 1, 1])], [0]);
});

test('embedding forward and VJP match torch.nn.functional.embedding', async () => {
  await checkTorchFile('embedding.json', () => embedding);
});

test('embedding with a symbolic batch of labels equals the static graph', async () => {
  for (const n of [1, 4]) {
    const labels = NDArray.from(Array.from({ length: n }, (_, i) => (i * 3) % 5));
    const shape = await checkSymbolic(embedding, [testData([5, 3], n), labels], [[5, 3], ['batch']], [0]);
    assert.deepEqual([...shape], ['batch', 3]);
  }
});

test('embedding rejects bool indices, naming the op and the shapes', () => {
  assertTraceError(
    (t: Value, i: Value) => embedding(t, i),
    [
      { name: 't', shape: [5, 3] },
      { name: 'i', shape: [2], dtype: 'bool' },
    ],
    'gather',
    'indices must be int64, got bool',
    '[5, 3]',
  );
});
