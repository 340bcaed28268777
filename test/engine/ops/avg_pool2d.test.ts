import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  type Value,
  avgPool2d,
  compile,
  grad,
  mul,
  sum,
  trace,
  toOnnxProto,
  type AvgPool2dOptions,
} from '../../../src/engine/index.ts';
import { assertClose, checkTorchCase, gradcheck, loadTorchCases, runFn, testData } from '../_gradcheck.ts';

/** Plain loop: window sums (zero padding included) divided by kh kw. */
function poolRef(x: NDArray, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): NDArray {
  const [N, C, H, W] = x.shape;
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1,
    Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const y = new NDArray([N, C, Ho, Wo]);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        let s = 0;
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            const h = i * sh + u - ph,
              w = j * sw + v - pw;
            if (h >= 0 && h < H && w >= 0 && w < W) s += x.data[(nc * H + h) * W + w];
          }
        y.data[(nc * Ho + i) * Wo + j] = s / (kh * kw);
      }
  return y;
}

test('avgPool2d forward equals window means (count_include_pad) for tiling, overlapping and padded windows', async () => {
  const x = testData([2, 3, 6, 7], 1);
  assertClose(await runFn((a) => avgPool2d(a, 2), [x]), poolRef(x, 2, 2, 2, 2, 0, 0), 1e-6, 1e-6);
  assertClose(
    await runFn((a) => avgPool2d(a, 3, { stride: 2, padding: 1 }), [x]),
    poolRef(x, 3, 3, 2, 2, 1, 1),
    1e-6,
    1e-6,
  );
  assertClose(
    await runFn((a) => avgPool2d(a, [2, 3], { stride: [1, 2] }), [x]),
    poolRef(x, 2, 3, 1, 2, 0, 0),
    1e-6,
    1e-6,
  );
});

test('avgPool2d gradient matches finite differences (repeat path and ConvTranspose path)', async () => {
  await gradcheck((a) => avgPool2d(a, 2), [testData([1, 2, 4, 4], 2)]);
  await gradcheck((a) => avgPool2d(a, 3, { stride: 2, padding: 1 }), [testData([1, 2, 5, 6], 3)]);
  // second order through avg_pool2d_grad's VJP
  // (its input is the cotangent a: dx = avg_pool2d_grad(a), linear in a)
  await gradcheck(
    (x, a) => grad(sum(mul(avgPool2d(x, 3, { stride: 2, padding: 1 }), a)), [x])[0],
    [testData([1, 1, 5, 5], 5), testData([1, 1, 3, 3], 4)],
    [1],
  );
  await gradcheck(
    (x, a) => grad(sum(mul(avgPool2d(x, 2), a)), [x])[0],
    [testData([1, 1, 4, 4], 5), testData([1, 1, 2, 2], 4)],
    [1],
  );
});

test('avgPool2d forward and VJP match PyTorch', async () => {
  for (const c of loadTorchCases('avg_pool2d.json')) {
    const { kernel, ...opts } = c.attrs as unknown as { kernel: number | [number, number] } & AvgPool2dOptions;
    await checkTorchCase((x) => avgPool2d(x, kernel, opts), c);
  }
});

test('avgPool2d gradient keeps a symbolic batch and uses Expand when windows tile', async () => {
  const g = trace(
    (x: Value) => grad(sum(mul(avgPool2d(x, 2), avgPool2d(x, 2))), [x])[0],
    [{ name: 'x', shape: ['batch', 2, 4, 4] }],
  );
  assert.ok(toOnnxProto(g).model.graph!.node!.some((n) => n.opType === 'Expand'));
  const x = testData([3, 2, 4, 4], 6);
  const [dx] = await (await compile(g)).run([x]);
  const y = poolRef(x, 2, 2, 2, 2, 0, 0);
  // d/dx sum(y^2) = 2 y / 4 spread over each window
  for (let n = 0; n < 6; n++)
    for (let h = 0; h < 4; h++)
      for (let w = 0; w < 4; w++) {
        const ref = (2 * y.data[(n * 2 + (h >> 1)) * 2 + (w >> 1)]) / 4;
        assert.ok(Math.abs(dx.data[(n * 4 + h) * 4 + w] - ref) < 1e-6);
      }
});

test('avgPool2d bad input names the op and the shape', () => {
  const t =
    (shape: number[], k: number, opts: AvgPool2dOptions = {}) =>
    () =>
      trace((x: Value) => avgPool2d(x, k, opts), [{ name: 'x', shape }]);
  assert.throws(
    t([1, 2, 4], 2),
    (e: Error) => /avg_pool2d/.test(e.message) && /\[1, 2, 4\]/.test(e.message) && /rank 4/.test(e.message),
  );
  assert.throws(
    t([1, 2, 4, 4], 2, { padding: 2 }),
    (e: Error) =>
      /avg_pool2d/.test(e.message) && /at most half the kernel/.test(e.message) && /\[1, 2, 4, 4\]/.test(e.message),
  );
  assert.throws(
    t([1, 2, 1, 4], 2),
    (e: Error) => /avg_pool2d/.test(e.message) && /larger than the padded input/.test(e.message),
  );
});
