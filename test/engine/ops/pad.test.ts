import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, pad, type Value } from '../../../src/engine/index.ts';
import { gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

test('pad forward places x inside a constant frame (ONNX pads layout: begins then ends)', async () => {
  const x = NDArray.from([
    [1, 2],
    [3, 4],
  ]);
  const y = await runFn((v: Value) => pad(v, [1, 0, 0, 2], 9), [x]);
  assert.deepEqual([...y.shape], [3, 4]);
  assert.deepEqual(y.toArray(), [9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9]);
});

test('pad gradient matches finite differences', async () => {
  await gradcheck((v: Value) => pad(v, [0, 1, 2, 1, 0, 1]), [testData([2, 3, 2], 1)]);
});

test('pad forward and VJP match torch.nn.functional.pad', async () => {
  await checkTorchFile('pad.json', (c) => (v: Value) => pad(v, c.attrs!.pads as number[], c.attrs!.value as number));
});

test('pad with a symbolic batch dimension (not padded) equals the static graph', async () => {
  for (const n of [1, 3])
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => pad(v, [0, 1, 0, 2]), [testData([n, 3], n)], [['batch', 3]]))],
      ['batch', 6],
    );
});

test('pad rejects wrong lengths, negative pads and padding a symbolic dimension', () => {
  assertTraceError(
    (v) => pad(v, [1, 1]),
    [{ name: 'x', shape: [2, 3] }],
    'pad',
    'pads must have 2 * rank = 4 entries',
    '[2, 3]',
  );
  assertTraceError(
    (v) => pad(v, [0, -1, 0, 0]),
    [{ name: 'x', shape: [2, 3] }],
    'pad',
    'non-negative integers',
    '[2, 3]',
  );
  assertTraceError(
    (v) => pad(v, [1, 0, 0, 0]),
    [{ name: 'x', shape: ['batch', 3] }],
    'pad',
    "cannot pad symbolic dimension 0 ('batch')",
  );
});
