import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, greater, where, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const sel = (c: Value, a: Value, b: Value) => where(greater(c, 0), a, b);

test('where forward picks a or b elementwise, with broadcasting of all three', async () => {
  const c = testData([2, 3], 1),
    a = testData([3], 2),
    b = testData([2, 1], 3);
  const y = await runFn(sel, [c, a, b]);
  assert.deepEqual([...y.shape], [2, 3]);
  const ref = Array.from({ length: 6 }, (_, i) => (c.data[i] > 0 ? a.data[i % 3] : b.data[Math.floor(i / 3)]));
  assertClose(y, ref, 0, 0);
  const z = await runFn((v: Value) => where(greater(v, 0), v, 0), [NDArray.from([-1, 2, -3])]);
  assert.deepEqual(z.toArray(), [0, 2, 0]);
});

test('where gradients match finite differences (cond fixed, broadcast branches summed)', async () => {
  await gradcheck(sel, [testData([2, 3], 4), testData([3], 5), testData([2, 1], 6)], [1, 2]);
});

test('where forward and VJP match torch.where', async () => {
  await checkTorchFile('where.json', () => sel);
});

test('where with a symbolic batch dimension equals the static graph', async () => {
  const shape = await checkSymbolic(
    sel,
    [testData([3, 4], 7), testData([4], 8), testData([3, 1], 9)],
    [['batch', 4], [4], ['batch', 1]],
    [1, 2],
  );
  assert.deepEqual([...shape], ['batch', 4]);
});

test('where rejects a non-bool condition, mixed branch dtypes and shapes that do not broadcast', () => {
  assertTraceError(
    (c, a, b) => where(c, a, b),
    [
      { name: 'c', shape: [2] },
      { name: 'a', shape: [2] },
      { name: 'b', shape: [2] },
    ],
    'where',
    'condition must be bool, got float32',
  );
  assertTraceError(
    (c, a, b) => where(greater(c, 0), a, b),
    [
      { name: 'c', shape: [2] },
      { name: 'a', shape: [2] },
      { name: 'b', shape: [2], dtype: 'int64' },
    ],
    'where',
    'float32 and int64',
  );
  assertTraceError(
    (c, a, b) => where(greater(c, 0), a, b),
    [
      { name: 'c', shape: [2, 3] },
      { name: 'a', shape: [3] },
      { name: 'b', shape: [4] },
    ],
    'where',
    '[2, 3]',
    '[3]',
    '[4]',
  );
});
