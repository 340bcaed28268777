import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, compile, grad, mean, numel, trace, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { reduceRef } from './_ref.ts';

test('mean forward equals a plain loop (axes, keepDims, negative axes, all axes)', async () => {
  const x = testData([2, 3, 4], 1);
  for (const [axes, keep] of [
    [[1], true],
    [[0, 2], false],
    [[-1], false],
    [[0, 1, 2], false],
  ] as [number[], boolean][]) {
    const y = await runFn((v: Value) => mean(v, axes, keep), [x]);
    const ref = reduceRef(
      x,
      axes.map((a) => (a + 3) % 3),
      0,
      (a, v) => a + v,
      (a, n) => a / n,
    );
    assertClose(y, ref.data, 1e-5, 1e-6, `axes ${axes}`);
    assert.equal(y.ndim, keep ? 3 : 3 - axes.length);
  }
  assert.equal((await runFn((v: Value) => mean(v), [x])).ndim, 0);
});

test('mean gradient matches finite differences', async () => {
  await gradcheck((v: Value) => mean(v, [0, 2], true), [testData([2, 3, 4], 2)]);
  await gradcheck((v: Value) => mean(v), [testData([3, 2], 3)]);
});

test('mean forward and VJP match PyTorch', async () => {
  await checkTorchFile(
    'reduce_mean.json',
    (c) => (v: Value) => mean(v, c.attrs!.axes as number[] | undefined, c.attrs!.keepDims as boolean | undefined),
  );
});

test('mean over a symbolic batch axis divides by the run-time batch size (forward and VJP)', async () => {
  for (const n of [1, 2, 5]) {
    const shape = await checkSymbolic((v: Value) => mean(v, [0]), [testData([n, 3], n)], [['batch', 3]]);
    assert.deepEqual([...shape], [3]);
    await checkSymbolic((v: Value) => mean(v), [testData([n, 3], n + 1)], [['batch', 3]]);
    await checkSymbolic((v: Value) => mean(v, [1], true), [testData([n, 3], n + 2)], [['batch', 3]]);
  }
  // d mean / dx = 1/N with N known only at run time
  const g = trace((x: Value) => grad(mean(x), [x])[0], [{ name: 'x', shape: ['batch', 2] }]);
  assertClose((await (await compile(g)).run([NDArray.zeros([4, 2])]))[0], new Float32Array(8).fill(1 / 8));
});

test('numel is a constant for static dimensions and a run-time count for symbolic ones', async () => {
  const g = trace((x: Value) => [numel(x), numel(x, [1]), numel(x, [0])], [{ name: 'x', shape: ['batch', 3] }]);
  assert.equal(g.outputs[1].producer!.op, 'constant'); // static count: a plain constant
  assert.equal(g.outputs[0].producer!.op, 'numel');
  const [all, cols, rows] = await (await compile(g)).run([NDArray.zeros([5, 3])]);
  assert.deepEqual([all.item(), cols.item(), rows.item()], [15, 3, 5]);
});

test('mean rejects bad axes and int64 input, naming the op and the shape', () => {
  assertTraceError(
    (v) => mean(v, [3]),
    [{ name: 'x', shape: [2, 3] }],
    'mean',
    'axis 3 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(
    (v) => mean(v, [0]),
    [{ name: 'x', shape: [2, 3], dtype: 'int64' }],
    'reduce_mean',
    'int64',
    '[2, 3]',
  );
});
