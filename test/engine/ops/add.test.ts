import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, add, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const f = (a: Value, b: Value) => add(a, b);
const ref = (a: number, b: number) => a + b;

test('add forward equals the JS operator, with numpy broadcasting', async () => {
  const a = testData([2, 1, 3], 1),
    b = testData([4, 1], 2, -1, 1);
  const y = await runFn(f, [a, b]);
  assert.deepEqual([...y.shape], [2, 4, 3]);
  const out: number[] = [];
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) out.push(ref(a.data[i * 3 + k], b.data[j]));
  assertClose(y, out, 1e-6, 1e-7);
  const s = await runFn((x: Value) => add(x, 2), [NDArray.from([1, -3])]);
  assertClose(s, [ref(1, 2), ref(-3, 2)], 1e-7, 0);
});

test('add gradients match finite differences (broadcast operands are summed back)', async () => {
  await gradcheck(f, [testData([2, 1, 3], 3), testData([4, 1], 4, -1, 1)]);
  await gradcheck(f, [testData([3], 5), testData([2, 3], 6, -1, 1)]);
});

test('add forward and VJP match PyTorch', async () => {
  await checkTorchFile('add.json', () => f);
});

test('add with a symbolic batch dimension equals the static graph', async () => {
  for (const n of [1, 3]) {
    const shape = await checkSymbolic(f, [testData([n, 3], n), testData([3], n + 1, -1, 1)], [['batch', 3], [3]]);
    assert.deepEqual([...shape], ['batch', 3]);
    await checkSymbolic(
      f,
      [testData([n, 1], n + 2), testData([n, 3], n + 3, -1, 1)],
      [
        ['batch', 1],
        ['batch', 3],
      ],
    );
  }
});

test('add rejects shapes that do not broadcast and mixed dtypes, naming the op and both shapes', () => {
  assertTraceError(
    f,
    [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [4] },
    ],
    'add',
    '[2, 3]',
    '[4]',
    'do not broadcast',
  );
  assertTraceError(
    f,
    [
      { name: 'a', shape: [2] },
      { name: 'b', shape: [2], dtype: 'int64' },
    ],
    'add',
    'float32',
    'int64',
  );
});
