import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logSoftmax, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { softmaxRef } from './_ref.ts';

test('logSoftmax forward equals x - max - log(sum(exp(x - max))) along any axis', async () => {
  const x = testData([2, 3, 4], 1, -4, 4);
  for (const axis of [-1, 0, 1]) {
    assertClose(
      await runFn((v: Value) => logSoftmax(v, axis), [x]),
      softmaxRef(x, (axis + 3) % 3, true),
      1e-5,
      1e-6,
      `axis ${axis}`,
    );
  }
});

test('logSoftmax gradient matches finite differences', async () => {
  await gradcheck((v: Value) => logSoftmax(v, 1), [testData([2, 4, 3], 2, -2, 2)]);
});

test('logSoftmax forward and VJP match PyTorch (including large logits)', async () => {
  await checkTorchFile('log_softmax.json', (c) => (v: Value) => logSoftmax(v, c.attrs!.axis as number));
});

test('logSoftmax with a symbolic batch dimension equals the static graph', async () => {
  for (const n of [1, 3])
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => logSoftmax(v), [testData([n, 5], n)], [['batch', 5]]))],
      ['batch', 5],
    );
});

test('logSoftmax rejects an axis out of range and int64 input', () => {
  assertTraceError(
    (v) => logSoftmax(v, -3),
    [{ name: 'x', shape: [2, 3] }],
    'logSoftmax',
    'axis -3 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(
    (v) => logSoftmax(v),
    [{ name: 'x', shape: [2, 3], dtype: 'int64' }],
    'log_softmax',
    'int64',
    '[2, 3]',
  );
});
