import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile, mapRef } from './_opcheck.ts';

test('clip forward equals min(max(x, lo), hi), with open sides', async () => {
  const x = testData([4, 6], 1, -2, 2);
  assertClose(
    await runFn((v: Value) => clip(v, -0.5, 1), [x]),
    mapRef(x, (v) => Math.min(Math.max(v, -0.5), 1)),
  );
  assertClose(
    await runFn((v: Value) => clip(v, 0), [x]),
    mapRef(x, (v) => Math.max(v, 0)),
  );
  assertClose(
    await runFn((v: Value) => clip(v, undefined, 0.25), [x]),
    mapRef(x, (v) => Math.min(v, 0.25)),
  );
});

test('clip gradient matches finite differences away from the bounds', async () => {
  const x = testData([3, 5], 2, -2, 2);
  x.data.set(x.data.map((v) => (Math.abs(v + 0.5) < 0.05 || Math.abs(v - 1) < 0.05 ? v + 0.1 : v)));
  await gradcheck((v: Value) => clip(v, -0.5, 1), [x]);
});

test('clip forward and VJP match torch.clamp (gradient passes on the bounds)', async () => {
  await checkTorchFile(
    'clip.json',
    (c) => (v: Value) => clip(v, c.attrs!.min as number | undefined, c.attrs!.max as number | undefined),
  );
});

test('clip with a symbolic batch dimension equals the static graph', async () => {
  const shape = await checkSymbolic((v: Value) => clip(v, -0.5, 0.5), [testData([3, 4], 3)], [['batch', 4]]);
  assert.deepEqual([...shape], ['batch', 4]);
});

test('clip rejects missing or crossed bounds', () => {
  assertTraceError((v) => clip(v), [{ name: 'x', shape: [2, 3] }], 'clip', 'at least one of min and max', '[2, 3]');
  assertTraceError(
    (v) => clip(v, 1, -1),
    [{ name: 'x', shape: [2, 3] }],
    'clip',
    'min 1 is greater than max -1',
    '[2, 3]',
  );
  assertTraceError((v) => clip(v, NaN), [{ name: 'x', shape: [2, 3] }], 'clip', 'min must be a number', '[2, 3]');
});
