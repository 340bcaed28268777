import { test } from 'node:test';
import assert from 'node:assert/strict';
import { softmax, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { softmaxRef } from './_ref.ts';

test('softmax forward equals the max-shifted formula along any axis', async () => {
  const x = testData([2, 3, 4], 1, -4, 4);
  for (const axis of [-1, 0, 1]) {
    assertClose(
      await runFn((v: Value) => softmax(v, axis), [x]),
      softmaxRef(x, (axis + 3) % 3),
      1e-5,
      1e-7,
      `axis ${axis}`,
    );
  }
});

test('softmax gradient matches finite differences', async () => {
  await gradcheck((v: Value) => softmax(v, 1), [testData([2, 4, 3], 2, -2, 2)]);
});

test('softmax forward and VJP match PyTorch (including large logits)', async () => {
  await checkTorchFile('softmax.json', (c) => (v: Value) => softmax(v, c.attrs!.axis as number));
});

test('softmax with a symbolic batch dimension equals the static graph', async () => {
  for (const n of [1, 3])
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => softmax(v), [testData([n, 5], n)], [['batch', 5]]))],
      ['batch', 5],
    );
});

test('softmax rejects an axis out of range, naming the op and the shape', () => {
  assertTraceError(
    (v) => softmax(v, 2),
    [{ name: 'x', shape: [2, 3] }],
    'softmax',
    'axis 2 out of range for rank 2',
    '[2, 3]',
  );
});
