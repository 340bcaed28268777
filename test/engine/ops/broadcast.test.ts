import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, broadcastTo, compile, grad, mul, sum, sumTo, trace, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { reduceRef } from './_ref.ts';

test('broadcastTo forward repeats the input along new and size-1 axes', async () => {
  const x = NDArray.from([[1], [2]]);
  const y = await runFn((v: Value) => broadcastTo(v, [3, 2, 2]), [x]);
  assert.deepEqual(y.toArray(), [1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2]);
});

test('sumTo forward equals summing over the broadcast axes by a plain loop', async () => {
  const x = testData([2, 4, 3], 1);
  assertClose(await runFn((v: Value) => sumTo(v, [3]), [x]), reduceRef(x, [0, 1], 0, (a, v) => a + v).data, 1e-5, 1e-6);
  assertClose(
    await runFn((v: Value) => sumTo(v, [4, 1]), [x]),
    reduceRef(x, [0, 2], 0, (a, v) => a + v).data,
    1e-5,
    1e-6,
  );
  assertClose(await runFn((v: Value) => sumTo(v, [2, 4, 3]), [x]), x.data, 0, 0);
});

test('broadcastTo and sumTo gradients match finite differences', async () => {
  await gradcheck((v: Value) => broadcastTo(v, [2, 3, 4]), [testData([3, 1], 2)]);
  await gradcheck((v: Value) => sumTo(v, [1, 4]), [testData([2, 3, 4], 3)]);
});

test('broadcastTo and sumTo forward and VJP match torch.broadcast_to / Tensor.sum_to_size', async () => {
  await checkTorchFile('broadcast.json', (c) => (v: Value) => broadcastTo(v, c.attrs!.shape as number[]));
  await checkTorchFile('sum_to.json', (c) => (v: Value) => sumTo(v, c.attrs!.shape as number[]));
});

test('broadcastTo a symbolic batch needs a like value; with it, forward and VJP equal the static graph', async () => {
  for (const n of [1, 3]) {
    const f = (v: Value, like: Value) => mul(broadcastTo(v, like.shape, like), 1);
    assert.deepEqual(
      [
        ...(await checkSymbolic(
          f,
          [testData([1, 3], n), testData([n, 3], 1)],
          [
            [1, 3],
            ['batch', 3],
          ],
          [0],
        )),
      ],
      ['batch', 3],
    );
    // the symbolic dim already present in the input: no like value needed
    assert.deepEqual(
      [
        ...(await checkSymbolic(
          (v: Value) => broadcastTo(v, [2, v.shape[0], 3]),
          [testData([n, 1], n)],
          [['batch', 1]],
        )),
      ],
      [2, 'batch', 3],
    );
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => sumTo(v, [1, 3]), [testData([n, 3], n)], [['batch', 3]]))],
      [1, 3],
    );
  }
  // without a like value the error names the op
  const g = trace((v: Value) => broadcastTo(v, ['batch', 3]), [{ name: 'x', shape: [1, 3] }]);
  await assert.rejects(async () => compile(g), /broadcast to \[batch, 3\].*pass a 'like' value/);
});

test('grad of a mean-like loss over a symbolic batch broadcasts the seed with the run-time shape', async () => {
  const g = trace((x: Value) => grad(sum(mul(x, x)), [x])[0], [{ name: 'x', shape: ['batch', 2] }]);
  const x = testData([3, 2], 4);
  assertClose(
    (await (await compile(g)).run([x]))[0],
    x.data.map((v) => 2 * v),
    1e-6,
    1e-7,
  );
});

test('broadcastTo rejects incompatible targets, naming the op and the shapes', () => {
  assertTraceError(
    (v) => broadcastTo(v, [2, 4]),
    [{ name: 'x', shape: [2, 3] }],
    'broadcast',
    'cannot broadcast [2, 3] to [2, 4]',
  );
  assertTraceError(
    (v) => broadcastTo(v, [3]),
    [{ name: 'x', shape: [2, 3] }],
    'broadcast',
    'cannot broadcast [2, 3] to [3]',
  );
});
