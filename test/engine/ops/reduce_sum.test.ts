import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { reduceRef } from './_ref.ts';

test('sum forward equals a plain loop (axes, keepDims, negative axes, all axes)', async () => {
  const x = testData([2, 3, 4], 1);
  for (const [axes, keep] of [
    [[1], true],
    [[0, 2], false],
    [[-1], false],
    [[0, 1, 2], true],
  ] as [number[], boolean][]) {
    const y = await runFn((v: Value) => sum(v, axes, keep), [x]);
    assertClose(
      y,
      reduceRef(
        x,
        axes.map((a) => (a + 3) % 3),
        0,
        (a, v) => a + v,
      ).data,
      1e-5,
      1e-6,
      `axes ${axes}`,
    );
    assert.equal(y.ndim, keep ? 3 : 3 - axes.length);
  }
  const all = await runFn((v: Value) => sum(v), [x]);
  assert.equal(all.ndim, 0);
  assertClose(all, [x.data.reduce((a, v) => a + v, 0)], 1e-5, 1e-6);
});

test('sum gradient matches finite differences', async () => {
  await gradcheck((v: Value) => sum(v, [0, 2]), [testData([2, 3, 4], 2)]);
});

test('sum forward and VJP match PyTorch', async () => {
  await checkTorchFile(
    'reduce_sum.json',
    (c) => (v: Value) => sum(v, c.attrs!.axes as number[] | undefined, c.attrs!.keepDims as boolean | undefined),
  );
});

test('sum over or beside a symbolic batch dimension equals the static graph', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual([...(await checkSymbolic((v: Value) => sum(v, [0]), [testData([n, 3], n)], [['batch', 3]]))], [3]);
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => sum(v, [1], true), [testData([n, 3], n)], [['batch', 3]]))],
      ['batch', 1],
    );
    assert.deepEqual([...(await checkSymbolic((v: Value) => sum(v), [testData([n, 3], n)], [['batch', 3]]))], []);
  }
});

test('sum rejects an axis out of range', () => {
  assertTraceError(
    (v) => sum(v, [2]),
    [{ name: 'x', shape: [2, 3] }],
    'sum',
    'axis 2 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(
    (v) => sum(v, [-3]),
    [{ name: 'x', shape: ['batch', 3] }],
    'sum',
    'axis -3 out of range for rank 2',
    '[batch, 3]',
  );
});
