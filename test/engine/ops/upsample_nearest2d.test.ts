import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Value,
  compile,
  grad,
  sum,
  mul,
  trace,
  upsampleNearest2d,
  type UpsampleFormulation,
} from '../../../src/engine/index.ts';
import { checkTorchCase, gradcheck, loadTorchCases, runFn, testData } from '../_gradcheck.ts';

test('upsampleNearest2d repeats each pixel over an sh x sw block (both lowerings)', async () => {
  const x = testData([2, 3, 2, 3], 1);
  for (const f of ['resize', 'expand', 'auto'] as UpsampleFormulation[]) {
    const y = await runFn((a) => upsampleNearest2d(a, [2, 3], f), [x]);
    assert.deepEqual([...y.shape], [2, 3, 4, 9]);
    for (let nc = 0; nc < 6; nc++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 9; j++) {
          assert.equal(
            y.data[(nc * 4 + i) * 9 + j],
            x.data[(nc * 2 + (i >> 1)) * 3 + Math.floor(j / 3)],
            `${f} at ${nc},${i},${j}`,
          );
        }
  }
});

test('upsampleNearest2d gradient matches finite differences, also second order', async () => {
  await gradcheck((a) => upsampleNearest2d(a, 2), [testData([1, 2, 2, 3], 2)]);
  await gradcheck(
    (x, a) => grad(sum(mul(upsampleNearest2d(x, [2, 1]), a)), [x])[0],
    [testData([1, 1, 2, 2], 3), testData([1, 1, 4, 2], 4)],
    [1],
  );
});

test('upsampleNearest2d forward and VJP match PyTorch interpolate(mode="nearest")', async () => {
  for (const c of loadTorchCases('upsample_nearest2d.json')) {
    const { scale } = c.attrs as { scale: number | [number, number] };
    await checkTorchCase((x) => upsampleNearest2d(x, scale), c);
    await checkTorchCase((x) => upsampleNearest2d(x, scale, 'expand'), c);
  }
});

test('upsampleNearest2d keeps a symbolic batch in forward and backward', async () => {
  const g = trace(
    (x: Value) => {
      const y = upsampleNearest2d(x, 2);
      assert.deepEqual([...y.shape], ['batch', 2, 4, 4]);
      return grad(sum(mul(y, y)), [x])[0];
    },
    [{ name: 'x', shape: ['batch', 2, 2, 2] }],
  );
  const x = testData([3, 2, 2, 2], 5);
  const [dx] = await (await compile(g)).run([x]);
  for (let i = 0; i < x.size; i++) assert.ok(Math.abs(dx.data[i] - 8 * x.data[i]) < 1e-5); // 4 copies, d/dx x^2 = 2x each
});

test('upsampleNearest2d bad input names the op and the shape', () => {
  assert.throws(
    () => trace((x: Value) => upsampleNearest2d(x, 1.5), [{ name: 'x', shape: [1, 2, 3, 3] }]),
    (e: Error) =>
      /upsample_nearest2d/.test(e.message) && /\[1, 2, 3, 3\]/.test(e.message) && /positive integer/.test(e.message),
  );
  assert.throws(
    () => trace((x: Value) => upsampleNearest2d(x, 2), [{ name: 'x', shape: [2, 3, 3] }]),
    (e: Error) => /upsample_nearest2d/.test(e.message) && /\[2, 3, 3\]/.test(e.message) && /rank 4/.test(e.message),
  );
});
