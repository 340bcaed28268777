import { test } from 'node:test';
import { gelu, trace, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile, mapRef } from './_opcheck.ts';
import { erfRef } from './_erf_ref.ts';
import assert from 'node:assert/strict';

const exact = (x: Value) => gelu(x);
const approx = (x: Value) => gelu(x, { approximate: 'tanh' });
// Hendrycks & Gimpel (2016): GELU(x) = x Phi(x) and its tanh approximation.
const exactRef = (v: number) => 0.5 * v * (1 + erfRef(v / Math.SQRT2));
const tanhRef = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

test('gelu forward equals x Phi(x) (exact) and the tanh formula', async () => {
  const x = testData([4, 7], 1, -5, 5);
  assertClose(await runFn(exact, [x]), mapRef(x, exactRef), 1e-5, 1e-6, 'exact');
  assertClose(await runFn(approx, [x]), mapRef(x, tanhRef), 1e-5, 1e-6, 'tanh');
});

test('gelu gradients (both forms) match finite differences', async () => {
  await gradcheck(exact, [testData([2, 5], 2, -3, 3)]);
  await gradcheck(approx, [testData([2, 5], 3, -3, 3)]);
});

test('gelu forward and VJP match PyTorch (approximate none and tanh)', async () => {
  await checkTorchFile('gelu.json', (c) => (x) => gelu(x, { approximate: c.attrs!.approximate as 'none' | 'tanh' }));
});

test('gelu with a symbolic batch dimension equals the static graph', async () => {
  for (const fn of [exact, approx]) {
    const shape = await checkSymbolic(fn, [testData([3, 4], 4, -3, 3)], [['batch', 4]]);
    assert.deepEqual([...shape], ['batch', 4]);
  }
});

test('gelu rejects an unknown approximation and non-float input', () => {
  assertTraceError(
    (x) => gelu(x, { approximate: 'erf' as never }),
    [{ name: 'x', shape: [2, 3] }],
    'gelu',
    "approximate must be one of 'none', 'tanh'",
    '"erf"',
    '[2, 3]',
  );
  assertTraceError(exact, [{ name: 'x', shape: [2, 3], dtype: 'int64' }], 'gelu', 'int64', '[2, 3]');
  assert.ok(trace(exact, [{ name: 'x', shape: [2] }]));
});
