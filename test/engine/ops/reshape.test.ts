import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatten, reshape, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

test('reshape keeps the row-major order of the elements (and infers -1)', async () => {
  const x = testData([2, 3, 4], 1);
  for (const shape of [[6, 4], [4, -1], [24], [2, 12, 1]]) {
    const y = await runFn((v: Value) => reshape(v, shape), [x]);
    assertClose(y, x.data, 0, 0);
    assert.equal(y.size, 24);
  }
  assert.deepEqual([...(await runFn((v: Value) => reshape(v, [4, -1]), [x])).shape], [4, 6]);
  assert.deepEqual([...(await runFn((v: Value) => flatten(v), [x])).shape], [2, 12]);
});

test('reshape gradient matches finite differences', async () => {
  await gradcheck((v: Value) => reshape(v, [3, 4]), [testData([2, 6], 2)]);
});

test('reshape forward and VJP match torch.reshape', async () => {
  await checkTorchFile('reshape.json', (c) => (v: Value) => reshape(v, c.attrs!.shape as number[]));
});

test('reshape with a symbolic batch dimension (kept, moved or with others) equals the static graph', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => reshape(v, [v.shape[0], 2, 3]), [testData([n, 6], n)], [['batch', 6]]))],
      ['batch', 2, 3],
    );
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => flatten(v), [testData([n, 2, 3], n)], [['batch', 2, 3]]))],
      ['batch', 6],
    );
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => reshape(v, [2, v.shape[0]]), [testData([n, 2], n)], [['batch', 2]]))],
      [2, 'batch'],
    );
  }
});

test('reshape rejects size mismatches, two -1s and lost symbolic dimensions', () => {
  assertTraceError(
    (v) => reshape(v, [5, 5]),
    [{ name: 'x', shape: [2, 3, 4] }],
    'reshape',
    'sizes differ (24 vs 25 elements)',
    '[2, 3, 4]',
  );
  assertTraceError(
    (v) => reshape(v, [-1, -1]),
    [{ name: 'x', shape: [2, 3] }],
    'reshape',
    'at most one dimension may be -1',
  );
  assertTraceError(
    (v) => reshape(v, [6]),
    [{ name: 'x', shape: ['batch', 6] }],
    'reshape',
    'symbolic dimensions differ',
  );
});
