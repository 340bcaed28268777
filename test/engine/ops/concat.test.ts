import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, chunk, compile, concat, grad, mul, sum, trace, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const cat3 = (axis: number) => (a: Value, b: Value, c: Value) => concat([a, b, c], axis);

test('concat forward equals joining rows / columns by hand', async () => {
  const a = NDArray.from([
      [1, 2],
      [3, 4],
    ]),
    b = NDArray.from([[5], [6]]),
    c = NDArray.from([
      [7, 8, 9],
      [10, 11, 12],
    ]);
  assert.deepEqual((await runFn(cat3(1), [a, b, c])).toArray(), [1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12]);
  const y = await runFn(cat3(0), [a, a, NDArray.from([[0, -1]])]);
  assert.deepEqual([...y.shape], [5, 2]);
  assert.deepEqual(y.toArray(), [1, 2, 3, 4, 1, 2, 3, 4, 0, -1]);
});

test('concat gradient matches finite differences (each input gets its own slice)', async () => {
  await gradcheck(cat3(1), [testData([2, 1, 3], 1), testData([2, 2, 3], 2), testData([2, 3, 3], 3)]);
});

test('concat forward and VJP match torch.cat', async () => {
  await checkTorchFile('concat.json', (c) => cat3(c.attrs!.axis as number));
});

test('concat with a symbolic batch dimension: along a static axis, and along the batch axis itself', async () => {
  for (const n of [1, 3]) {
    const s1 = await checkSymbolic(
      cat3(1),
      [testData([n, 2], 1), testData([n, 1], 2), testData([n, 3], 3)],
      [
        ['batch', 2],
        ['batch', 1],
        ['batch', 3],
      ],
    );
    assert.deepEqual([...s1], ['batch', 6]);
    const s2 = await checkSymbolic(
      (a: Value, b: Value) => concat([a, b], 0),
      [testData([n, 2], 4), testData([n, 2], 5)],
      [
        ['batch', 2],
        ['batch', 2],
      ],
    );
    assert.deepEqual([...s2], ['batch+batch', 2]);
    const s3 = await checkSymbolic(
      (a: Value, b: Value) => concat([a, b, a], 0),
      [testData([n, 2], 6), testData([2, 2], 7)],
      [
        ['batch', 2],
        [2, 2],
      ],
    );
    assert.deepEqual([...s3], ['batch+batch+2', 2]);
  }
});

test('classifier-free guidance pattern: concat([x, x]) then chunk(2) round-trips a symbolic batch, with gradients', async () => {
  const f = (x: Value, w: Value) => {
    const both = mul(concat([x, x], 0), w); // ['batch+batch', 3]
    const [u, c] = chunk(both, 2, 0); // ['batch', 3] each
    assert.deepEqual([...u.shape], ['batch', 3]);
    return sum(mul(u, c));
  };
  const g = trace(
    (x: Value, w: Value) => [f(x, w), ...grad(f(x, w), [x])],
    [
      { name: 'x', shape: ['batch', 3] },
      { name: 'w', shape: [1, 3] },
    ],
  );
  const x = testData([4, 3], 8),
    w = testData([1, 3], 9);
  const [loss, gx] = await (await compile(g)).run([x, w]);
  // sum((x w) * (x w)) = sum(x^2 w^2); d/dx = 2 x w^2
  assertClose([loss.item()], [x.data.reduce((s, v, i) => s + (v * w.data[i % 3]) ** 2, 0)], 1e-5);
  assertClose(
    gx,
    x.data.map((v, i) => 2 * v * w.data[i % 3] ** 2),
    1e-5,
    1e-6,
  );
});

test('concat rejects differing non-axis dimensions, ranks, dtypes and empty input lists', () => {
  assertTraceError(
    (a, b) => concat([a, b], 1),
    [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [4, 3] },
    ],
    'concat',
    'dimension 0 differs (2 vs 4)',
    '[2, 3]',
    '[4, 3]',
  );
  assertTraceError(
    (a, b) => concat([a, b], 0),
    [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [3] },
    ],
    'concat',
    'same rank',
  );
  assertTraceError(
    (a, b) => concat([a, b], 0),
    [
      { name: 'a', shape: [2] },
      { name: 'b', shape: [2], dtype: 'int64' },
    ],
    'concat',
    'float32, int64',
  );
  assertTraceError(
    (a) => concat([a], 2),
    [{ name: 'a', shape: [2, 3] }],
    'concat',
    'axis 2 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(() => concat([]), [], 'concat', 'at least one input');
});
