import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  compile,
  constant,
  grad,
  mul,
  stopGradient,
  sum,
  trace,
  type Value,
} from '../../../src/engine/index.ts';
import { assertClose, testData } from '../_gradcheck.ts';

test('stopGradient is the identity forward and blocks the gradient: d/dx sum(x * sg(x)) = x, not 2x', async () => {
  const x = testData([3, 4], 11);
  const g = trace(
    (v: Value) => {
      const y = mul(v, stopGradient(v));
      return [y, grad(sum(y), [v])[0]];
    },
    [{ name: 'x', shape: [3, 4] }],
  );
  const [y, dx] = await (await compile(g)).run({ x });
  assertClose(
    y,
    x.data.map((v) => v * v),
    1e-6,
    0,
  );
  assertClose(dx, x.data, 1e-6, 0);
});

test('constants embed NDArrays exactly and have no gradient path', async () => {
  const c = NDArray.from([
    [1.5, -2],
    [3.25, 1e-7],
  ]);
  const g = trace(
    (v: Value) => {
      const y = mul(v, constant(c));
      return [y, grad(sum(y), [v])[0]];
    },
    [{ name: 'x', shape: [2, 2] }],
  );
  const [y, dx] = await (await compile(g)).run({ x: NDArray.ones([2, 2]) });
  assert.deepEqual(Array.from(y.data), Array.from(c.data));
  assert.deepEqual(Array.from(dx.data), Array.from(c.data));
});
