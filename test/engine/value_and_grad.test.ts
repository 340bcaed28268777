/**
 * valueAndGrad (the engine's headline: value and gradients in one traced graph) against closed forms:
 * for L(w, x) = sum((x w)^2), dL/dw = 2 x^T x w and dL/dx = 2 (x w) w^T.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, compile, matmul, mul, sum, trace, valueAndGrad, type Value } from '../../src/engine/index.ts';

const loss = (w: Value, x: Value) => {
  const y = matmul(x, w);
  return sum(mul(y, y));
};
const w = NDArray.from([[1], [2], [3]]);
const x = NDArray.from([
  [1, 0, 0],
  [0.5, -1, 2],
]);
const specs = [
  { name: 'w', shape: [3, 1] },
  { name: 'x', shape: ['batch', 3] },
];

/** y = x w per row. */
const xw = [1, 0.5 * 1 - 2 + 2 * 3];

test('valueAndGrad returns the loss and its gradient w.r.t. the first argument by default', async () => {
  const f = await compile(trace(valueAndGrad(loss), specs));
  const [l, dw] = await f.run({ w, x });
  assert.equal(l!.data[0], xw[0]! ** 2 + xw[1]! ** 2);
  // dL/dw_j = 2 sum_i y_i x_ij
  const expected = [0, 1, 2].map((j) => 2 * (xw[0]! * x.data[j]! + xw[1]! * x.data[3 + j]!));
  assert.deepEqual(Array.from(dw!.data), expected);
  assert.deepEqual([...dw!.shape], [3, 1]);
});

test('argnums picks the arguments; gradients come in that order; the batch stays symbolic', async () => {
  const f = await compile(trace(valueAndGrad(loss, [1, 0]), specs));
  const [, dx, dw] = await f.run({ w, x });
  // dL/dx_ij = 2 y_i w_j
  assert.deepEqual(
    Array.from(dx!.data),
    [0, 1].flatMap((i) => [1, 2, 3].map((wj) => 2 * xw[i]! * wj)),
  );
  assert.equal(dw!.size, 3);
  const [l1] = await f.run({ w, x: NDArray.from([[1, 1, 1]]) });
  assert.equal(l1!.data[0], 36);
});

test('auxiliary outputs pass through between the loss and the gradients; a bad argnum is one clear error', async () => {
  const f = await compile(
    trace(
      valueAndGrad((a: Value, b: Value) => [loss(a, b), matmul(b, a)]),
      specs,
    ),
  );
  const [l, y, dw] = await f.run({ w, x });
  assert.deepEqual(Array.from(y!.data), xw);
  assert.equal(l!.data[0], xw[0]! ** 2 + xw[1]! ** 2);
  assert.equal(dw!.size, 3);
  assert.throws(() => trace(valueAndGrad(loss, [2]), specs), /valueAndGrad: argnum 2 out of range for 2 arguments/);
});
