import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, max, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData, vjpOf } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { reduceRef } from './_ref.ts';

test('max forward equals a plain loop (axes, keepDims, all axes)', async () => {
  const x = testData([2, 3, 4], 1);
  for (const [axes, keep] of [
    [[1], true],
    [[0, 2], false],
    [[2], false],
  ] as [number[], boolean][]) {
    const y = await runFn((v: Value) => max(v, axes, keep), [x]);
    assertClose(y, reduceRef(x, axes, -Infinity, Math.max).data, 0, 0, `axes ${axes}`);
  }
  assert.equal((await runFn((v: Value) => max(v), [x])).item(), Math.max(...x.data));
});

test('max gradient matches finite differences when the maximum is unique', async () => {
  await gradcheck((v: Value) => max(v, [1]), [testData([2, 5, 3], 2)]);
  await gradcheck((v: Value) => max(v, [0, 2], true), [testData([2, 3, 4], 3)]);
});

test('max gradient is split evenly among ties (torch.amax)', async () => {
  const x = NDArray.from([
    [1, 3, 3, 0],
    [2, 2, 2, 2],
  ]);
  const { out, grads } = await vjpOf((v: Value) => max(v, [1]), [x], NDArray.from([6, 8]), [0]);
  assert.deepEqual(out.toArray(), [3, 2]);
  assert.deepEqual(grads[0].toArray(), [0, 3, 3, 0, 2, 2, 2, 2]);
});

test('max forward and VJP match torch.amax (with ties)', async () => {
  await checkTorchFile(
    'reduce_max.json',
    (c) => (v: Value) => max(v, c.attrs!.axes as number[] | undefined, c.attrs!.keepDims as boolean | undefined),
  );
});

test('max with a symbolic batch dimension equals the static graph (reducing it or not)', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => max(v, [1]), [testData([n, 4], n)], [['batch', 4]]))],
      ['batch'],
    );
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => max(v, [0]), [testData([n, 4], n + 5)], [['batch', 4]]))],
      [4],
    );
  }
});

test('max rejects bad axes, empty axes and bool input', () => {
  assertTraceError(
    (v) => max(v, [-3]),
    [{ name: 'x', shape: [2, 3] }],
    'max',
    'axis -3 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError((v) => max(v, [1]), [{ name: 'x', shape: [2, 0] }], 'reduce_max', 'size 0', '[2, 0]');
});
