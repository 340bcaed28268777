import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, chunk, split, type Value } from '../../../src/engine/index.ts';
import { gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

test('split and chunk forward cut consecutive parts', async () => {
  const x = NDArray.from([
    [0, 1, 2, 3, 4, 5],
    [6, 7, 8, 9, 10, 11],
  ]);
  assert.deepEqual((await runFn((v: Value) => split(v, [1, 3, 2], 1)[1], [x])).toArray(), [1, 2, 3, 7, 8, 9]);
  assert.deepEqual((await runFn((v: Value) => split(v, [1, 3, 2], -1)[2], [x])).toArray(), [4, 5, 10, 11]);
  assert.deepEqual((await runFn((v: Value) => chunk(v, 3, 1)[1], [x])).toArray(), [2, 3, 8, 9]);
  assert.deepEqual((await runFn((v: Value) => chunk(v, 2, 0)[1], [x])).toArray(), [6, 7, 8, 9, 10, 11]);
});

test('split gradient matches finite differences (unused parts get zeros)', async () => {
  await gradcheck((v: Value) => split(v, [2, 1, 2], 1)[0], [testData([2, 5], 1)]);
  await gradcheck((v: Value) => chunk(v, 2, 0)[1], [testData([4, 3], 2)]);
});

test('split and chunk forward and VJP match torch.split / torch.chunk', async () => {
  await checkTorchFile('split.json', (c) => {
    const { sizes, chunks, axis, part } = c.attrs as { sizes?: number[]; chunks?: number; axis: number; part: number };
    return (v: Value) => (chunks ? chunk(v, chunks, axis) : split(v, sizes!, axis))[part];
  });
});

test('split along a static axis and chunk along a symbolic one equal the static graphs', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => split(v, [1, 2], 1)[1], [testData([n, 3], n)], [['batch', 3]]))],
      ['batch', 2],
    );
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => chunk(v, 2, 0)[0], [testData([2 * n, 3], n)], [['twice', 3]]))],
      ['twice/2', 3],
    );
  }
});

test('split and chunk reject sizes that do not add up, bad chunk counts and symbolic sizes without like values', () => {
  assertTraceError(
    (v) => split(v, [1, 1], 1)[0],
    [{ name: 'x', shape: [2, 3] }],
    'split',
    'part sizes [1, 1] do not add up to dimension 1 of size 3',
    '[2, 3]',
  );
  assertTraceError(
    (v) => chunk(v, 2, 1)[0],
    [{ name: 'x', shape: [2, 3] }],
    'split',
    'size 3 does not divide into 2 equal chunks',
    '[2, 3]',
  );
  assertTraceError((v) => chunk(v, 0, 1)[0], [{ name: 'x', shape: [2, 3] }], 'split', 'positive integer, got 0');
  assertTraceError(
    (v) => split(v, ['n', 1], 0)[0],
    [{ name: 'x', shape: ['n+1', 3] }],
    'split',
    "need one 'like' value per part",
  );
});
