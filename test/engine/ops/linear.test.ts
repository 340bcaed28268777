import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type NDArray,
  type Value,
  compile,
  grad,
  linear,
  mul,
  sum,
  trace,
  toOnnxProto,
} from '../../../src/engine/index.ts';
import { assertClose, checkTorchCase, gradcheck, loadTorchCases, runFn, testData } from '../_gradcheck.ts';

/** y[m, o] = b[o] + sum_i x[m, i] w[o, i] over flattened leading axes (plain loop). */
function linearRef(x: NDArray, w: NDArray, b: NDArray | null): Float32Array {
  const [O, I] = w.shape,
    M = x.size / I;
  const y = new Float32Array(M * O);
  for (let m = 0; m < M; m++)
    for (let o = 0; o < O; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < I; i++) s += x.data[m * I + i] * w.data[o * I + i];
      y[m * O + o] = s;
    }
  return y;
}

test('linear forward equals x W^T + b for ranks 1, 2 and 3', async () => {
  const w = testData([4, 3], 2),
    b = testData([4], 3);
  for (const shape of [[3], [5, 3], [2, 5, 3]]) {
    const x = testData(shape, 1);
    const y = await runFn((a, k, c) => linear(a, k, c), [x, w, b]);
    assert.deepEqual([...y.shape], [...shape.slice(0, -1), 4]);
    assertClose(y, linearRef(x, w, b), 1e-5, 1e-6);
  }
});

test('linear lowers to one Gemm for 2-D input and to MatMul otherwise', () => {
  const ops = (shape: number[]): string[] => {
    const g = trace(
      (x: Value, w: Value, b: Value) => linear(x, w, b),
      [
        { name: 'x', shape },
        { name: 'w', shape: [4, 3] },
        { name: 'b', shape: [4] },
      ],
    );
    return toOnnxProto(g).model.graph!.node!.map((n) => n.opType!);
  };
  assert.deepEqual(ops([5, 3]), ['Gemm']);
  assert.ok(ops([2, 5, 3]).includes('MatMul'));
});

test('linear gradients match finite differences (with and without bias, rank 3)', async () => {
  await gradcheck((x, w, b) => linear(x, w, b), [testData([2, 3, 4], 4), testData([5, 4], 5), testData([5], 6)]);
  await gradcheck((x, w) => linear(x, w), [testData([3, 4], 7), testData([2, 4], 8)]);
  // second order: the VJP of linear_weight_grad
  await gradcheck(
    (x, w) => {
      const [dw] = grad(sum(mul(linear(x, w), linear(x, w))), [w]);
      return mul(dw, dw);
    },
    [testData([3, 2], 9), testData([2, 2], 10)],
  );
});

test('linear forward and VJP match PyTorch (1-D to 4-D input)', async () => {
  for (const c of loadTorchCases('linear.json')) await checkTorchCase((x, w, b) => linear(x, w, b), c);
});

test('linear keeps a symbolic batch dimension, including in dW', async () => {
  const g = trace(
    (x: Value, w: Value) => {
      const y = linear(x, w);
      assert.deepEqual([...y.shape], ['batch', 7, 2]);
      return grad(sum(y), [w]);
    },
    [
      { name: 'x', shape: ['batch', 7, 3] },
      { name: 'w', shape: [2, 3] },
    ],
  );
  const x = testData([4, 7, 3], 11);
  const [dw] = await (await compile(g)).run([x, testData([2, 3], 12)]);
  const ref = new Float32Array(6);
  for (let m = 0; m < 28; m++)
    for (let i = 0; i < 3; i++) {
      ref[i] += x.data[m * 3 + i];
      ref[3 + i] += x.data[m * 3 + i];
    }
  assertClose(dw, ref, 1e-5, 1e-5);
});

test('linear bad input names the op, the shapes and the feature mismatch', () => {
  assert.throws(
    () =>
      trace(
        (x: Value, w: Value) => linear(x, w),
        [
          { name: 'x', shape: [5, 3] },
          { name: 'w', shape: [4, 2] },
        ],
      ),
    (e: Error) =>
      /linear/.test(e.message) &&
      /\[5, 3\]/.test(e.message) &&
      /\[4, 2\]/.test(e.message) &&
      /in_features 2/.test(e.message),
  );
  assert.throws(
    () =>
      trace(
        (x: Value, w: Value, b: Value) => linear(x, w, b),
        [
          { name: 'x', shape: [5, 3] },
          { name: 'w', shape: [4, 3] },
          { name: 'b', shape: [3] },
        ],
      ),
    (e: Error) => /linear/.test(e.message) && /bias must have shape \[4\]/.test(e.message),
  );
});
