import { test } from 'node:test';
import assert from 'node:assert/strict';
import { permute, transpose, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';
import { strides, unravel } from './_ref.ts';

test('permute forward moves elements to out[i...] = x[i[perm^-1]...] (index arithmetic)', async () => {
  const x = testData([2, 3, 4], 1);
  const perm = [2, 0, 1];
  const y = await runFn((v: Value) => permute(v, perm), [x]);
  assert.deepEqual([...y.shape], [4, 2, 3]);
  const st = strides(x.shape);
  const ref = Array.from({ length: 24 }, (_, o) => {
    const oi = unravel(o, [4, 2, 3]);
    return x.data[perm.reduce((s, p, k) => s + oi[k] * st[p], 0)];
  });
  assertClose(y, ref, 0, 0);
  const t = await runFn((v: Value) => transpose(v), [x]);
  assert.deepEqual([...t.shape], [2, 4, 3]);
  assert.equal(t.data[1 * 12 + 3 * 3 + 2], x.data[1 * 12 + 2 * 4 + 3]);
});

test('permute gradient matches finite differences', async () => {
  await gradcheck((v: Value) => permute(v, [1, 2, 0]), [testData([2, 3, 2], 2)]);
});

test('permute and transpose forward and VJP match PyTorch', async () => {
  await checkTorchFile('transpose.json', (c) => {
    const { perm, swap } = c.attrs as { perm?: number[]; swap?: [number, number] };
    return (v: Value) => (perm ? permute(v, perm) : transpose(v, swap![0], swap![1]));
  });
});

test('permute with a symbolic batch dimension equals the static graph', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual(
      [...(await checkSymbolic((v: Value) => permute(v, [2, 0, 1]), [testData([n, 2, 3], n)], [['batch', 2, 3]]))],
      [3, 'batch', 2],
    );
  }
});

test('permute rejects non-permutations and transpose bad axes', () => {
  assertTraceError(
    (v) => permute(v, [0, 0, 1]),
    [{ name: 'x', shape: [2, 3, 4] }],
    'transpose',
    'perm [0, 0, 1] is not a permutation of 3 axes',
    '[2, 3, 4]',
  );
  assertTraceError(
    (v) => permute(v, [1, 0]),
    [{ name: 'x', shape: [2, 3, 4] }],
    'transpose',
    'not a permutation of 3 axes',
  );
  assertTraceError(
    (v) => transpose(v, 0, 5),
    [{ name: 'x', shape: [2, 3] }],
    'transpose',
    'axis 5 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(
    (v) => permute(v, [0, 2]),
    [{ name: 'x', shape: [2, 3] }],
    'permute',
    'axis 2 out of range for rank 2',
    '[2, 3]',
  );
});
