import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  compile,
  constantInt64,
  gather,
  grad,
  mul,
  sum,
  trace,
  type Value,
} from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData, vjpOf } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const take = (idx: number[] | number[][], axis: number) => (t: Value) => {
  const flat = (idx as (number | number[])[]).flat();
  const shape = Array.isArray(idx[0]) ? [idx.length, (idx[0] as number[]).length] : [idx.length];
  return gather(t, constantInt64(flat, shape), axis);
};

test('gather forward equals numpy.take by index arithmetic (axis 0 and 1, 2-D indices)', async () => {
  const t = testData([4, 3], 1);
  const y0 = await runFn(
    take(
      [
        [3, 0],
        [1, 1],
      ],
      0,
    ),
    [t],
  );
  assert.deepEqual([...y0.shape], [2, 2, 3]);
  assertClose(
    y0,
    [3, 0, 1, 1].flatMap((r) => [0, 1, 2].map((c) => t.data[r * 3 + c])),
    0,
    0,
  );
  const y1 = await runFn(take([2, 0, 2], 1), [t]);
  assert.deepEqual([...y1.shape], [4, 3]);
  assertClose(
    y1,
    [0, 1, 2, 3].flatMap((r) => [2, 0, 2].map((c) => t.data[r * 3 + c])),
    0,
    0,
  );
});

test('gather gradient matches finite differences (repeated indices accumulate)', async () => {
  await gradcheck(
    take(
      [
        [0, 2, 2],
        [3, 0, 1],
      ],
      0,
    ),
    [testData([4, 3], 2)],
  );
  await gradcheck(take([1, 1, 0], 1), [testData([2, 3, 2], 3)]);
  await gradcheck(
    take(
      [
        [2, 0],
        [2, 2],
      ],
      2,
    ),
    [testData([2, 2, 3], 4)],
  );
});

test('gather forward and VJP match PyTorch index_select', async () => {
  await checkTorchFile('gather.json', (c) => take(c.attrs!.indices as number[][], c.attrs!.axis as number));
});

test('gather with symbolic dimensions: a symbolic batch of indices, and gathering from a batched table', async () => {
  // indices as a graph input with a symbolic length
  const g = trace(
    (t: Value, i: Value) => {
      const y = gather(t, i, 0);
      assert.deepEqual([...y.shape], ['batch', 3]);
      return [y, grad(sum(mul(y, y)), [t])[0]];
    },
    [
      { name: 't', shape: [4, 3] },
      { name: 'i', shape: ['batch'], dtype: 'int64' },
    ],
  );
  const t = testData([4, 3], 5);
  const [y, gt] = await (await compile(g)).run({ t, i: BigInt64Array.from([3n, 3n, 0n]) });
  assertClose(y, [...t.data.slice(9, 12), ...t.data.slice(9, 12), ...t.data.slice(0, 3)], 0, 0);
  const ref = new Float32Array(12);
  for (const r of [3, 3, 0]) for (let c = 0; c < 3; c++) ref[r * 3 + c] += 2 * t.data[r * 3 + c];
  assertClose(gt, ref, 1e-6, 1e-7);
  for (const n of [1, 3]) {
    assert.deepEqual([...(await checkSymbolic(take([2, 0], 1), [testData([n, 3], n)], [['batch', 3]]))], ['batch', 2]);
  }
});

test('gather accepts negative indices (counted from the end, as ONNX Gather) in forward and VJP', async () => {
  const t = NDArray.from([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const { out, grads } = await vjpOf(take([-1, 0, -1], 0), [t], NDArray.ones([3, 2]), [0]);
  assert.deepEqual(out.toArray(), [5, 6, 1, 2, 5, 6]);
  assert.deepEqual(grads[0].toArray(), [1, 1, 0, 0, 2, 2]);
});

test('gather rejects float indices and bad axes', () => {
  assertTraceError(
    (t, i) => gather(t, i),
    [
      { name: 't', shape: [4, 3] },
      { name: 'i', shape: [2] },
    ],
    'gather',
    'indices must be int64, got float32',
    'embedding()',
    '[4, 3]',
  );
  assertTraceError(take([0], 2), [{ name: 't', shape: [4, 3] }], 'gather', 'axis 2 out of range for rank 2', '[4, 3]');
});
