import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, constantInt64, scatterAdd, type Value } from '../../../src/engine/index.ts';
import { gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const sa = (idx: number[]) => (d: Value, u: Value) => scatterAdd(d, constantInt64(idx), u);

test('scatterAdd forward adds rows at the indices, accumulating repeats', async () => {
  const d = NDArray.from([
      [1, 1],
      [2, 2],
      [3, 3],
    ]),
    u = NDArray.from([
      [10, 20],
      [30, 40],
      [50, 60],
    ]);
  const y = await runFn(sa([2, 0, 2]), [d, u]);
  assert.deepEqual(y.toArray(), [31, 41, 2, 2, 63, 83]);
});

test('scatterAdd gradients match finite differences', async () => {
  await gradcheck(sa([1, 3, 1]), [testData([4, 2], 1), testData([3, 2], 2)]);
});

test('scatterAdd forward and VJP match torch.index_add', async () => {
  await checkTorchFile('scatter_add.json', (c) => sa(c.attrs!.indices as number[]));
});

test('scatterAdd with a symbolic trailing dimension equals the static graph', async () => {
  const f = (d: Value, u: Value) => scatterAdd(d, constantInt64([0, 0]), u);
  for (const n of [1, 3]) {
    const shape = await checkSymbolic(
      f,
      [testData([2, n], n), testData([2, n], n + 1)],
      [
        [2, 'ch'],
        [2, 'ch'],
      ],
    );
    assert.deepEqual([...shape], [2, 'ch']);
  }
});

test('scatterAdd rejects float indices and mismatched update shapes', () => {
  assertTraceError(
    (d, i, u) => scatterAdd(d, i, u),
    [
      { name: 'd', shape: [4, 2] },
      { name: 'i', shape: [3] },
      { name: 'u', shape: [3, 2] },
    ],
    'scatter_add',
    'indices must be int64, got float32',
  );
  assertTraceError(
    (d, u) => sa([0, 1])(d, u),
    [
      { name: 'd', shape: [4, 2] },
      { name: 'u', shape: [3, 2] },
    ],
    'scatter_add',
    'updates must have shape indices.shape + data.shape[1:] = [2, 2], got [3, 2]',
  );
});
