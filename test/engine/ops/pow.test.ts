import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pow, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile, mapRef } from './_opcheck.ts';

test('pow forward equals Math.pow for integer and fractional exponents', async () => {
  const x = testData([3, 5], 1, -2, 2),
    xp = testData([3, 5], 2, 0.1, 3);
  for (const p of [0, 1, 2, 3, -1])
    assertClose(
      await runFn((v: Value) => pow(v, p), [x]),
      mapRef(x, (v) => v ** p),
      1e-5,
      1e-6,
      `p=${p}`,
    );
  for (const p of [0.5, -0.5, 2.5])
    assertClose(
      await runFn((v: Value) => pow(v, p), [xp]),
      mapRef(xp, (v) => v ** p),
      1e-5,
      1e-6,
      `p=${p}`,
    );
});

test('pow gradient matches finite differences', async () => {
  for (const p of [2, 3, -1]) await gradcheck((v: Value) => pow(v, p), [testData([2, 3], 3, 0.5, 2)]);
  for (const p of [0.5, -0.5, 2.5]) await gradcheck((v: Value) => pow(v, p), [testData([2, 3], 4, 0.5, 2)]);
  await gradcheck((v: Value) => pow(v, 3), [testData([2, 3], 5, -2, -0.5)]);
});

test('pow forward and VJP match PyTorch (including p = 0 and p = 1)', async () => {
  await checkTorchFile('pow.json', (c) => (v: Value) => pow(v, c.attrs!.exponent as number));
});

test('pow with a symbolic batch dimension equals the static graph', async () => {
  const shape = await checkSymbolic((v: Value) => pow(v, 2.5), [testData([3, 4], 6, 0.2, 2)], [['batch', 4]]);
  assert.deepEqual([...shape], ['batch', 4]);
});

test('pow rejects a non-finite exponent and int64 input', () => {
  assertTraceError(
    (v) => pow(v, NaN),
    [{ name: 'x', shape: [2, 3] }],
    'pow',
    'exponent must be a finite number, got NaN',
    '[2, 3]',
  );
  assertTraceError((v) => pow(v, 2), [{ name: 'x', shape: [2, 3], dtype: 'int64' }], 'pow', 'int64', '[2, 3]');
});
