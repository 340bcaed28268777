import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IM2COL_MAX_BYTES,
  PER_TAP_MIN_CHANNELS,
  type Value,
  add,
  chooseInputGradFormulation,
  chooseWeightGradFormulation,
  compile,
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  grad,
  mul,
  sum,
  trace,
  convGeometry,
  type Conv2dOptions,
  type WeightGradFormulation,
  type InputGradFormulation,
} from '../../../src/engine/index.ts';
import { assertClose, checkTorchCase, gradcheck, loadTorchCases, nd, runFn, testData } from '../_gradcheck.ts';
import { convRef } from './_conv_ref.ts';

test('conv2d forward equals a plain loop (stride 2, pad 1, dilation 1 and groups 2)', async () => {
  const x = testData([2, 4, 7, 6], 1),
    w = testData([6, 2, 3, 3], 2),
    b = testData([6], 3);
  const y = await runFn((a, k, c) => conv2d(a, k, c, { stride: 2, padding: 1, groups: 2 }), [x, w, b]);
  assertClose(y, convRef(x, w, b, 2, 1, 1, 2), 1e-5, 1e-5);
  const y2 = await runFn(
    (a, k) => conv2d(a, k, null, { padding: 2, dilation: 2 }),
    [testData([1, 2, 6, 5], 4), testData([3, 2, 3, 3], 5)],
  );
  assertClose(y2, convRef(testData([1, 2, 6, 5], 4), testData([3, 2, 3, 3], 5), null, 1, 2, 2, 1), 1e-5, 1e-5);
});

test('conv2d forward and VJP match PyTorch (stride, padding, dilation, groups, same, 1x1)', async () => {
  for (const c of loadTorchCases('conv2d.json')) {
    const opts = c.attrs as Conv2dOptions;
    await checkTorchCase((x, w, b) => conv2d(x, w, b, opts), c, 1e-4, 1e-4);
  }
});

test('every dW and dx formulation gives the PyTorch gradient', async () => {
  const cases = loadTorchCases('conv2d.json');
  for (const c of cases) {
    const opts = c.attrs as Conv2dOptions;
    const [x, w] = c.inputs.map(nd);
    const geo = convGeometry('conv2d', opts, [w.shape[2], w.shape[3]]);
    const wf: WeightGradFormulation[] = ['im2col', 'shifted', ...(geo.group === 1 ? ['valid_conv' as const] : [])];
    const xf: InputGradFormulation[] = [
      'conv_transpose',
      ...(geo.strides[0] === 1 && geo.strides[1] === 1 && c.name !== 'padding beyond the kernel extent'
        ? ['flipped_conv' as const]
        : []),
    ];
    const specs = [
      { name: 'x', shape: x.shape },
      { name: 'w', shape: w.shape },
      { name: 'g', shape: c.cotangent.shape },
    ];
    const g = trace(
      (xv: Value, wv: Value, gv: Value) => [
        ...wf.map((f) => conv2dWeightGrad(gv, xv, [w.shape[2], w.shape[3]], geo, f)),
        ...xf.map((f) => conv2dInputGrad(gv, wv, [x.shape[2], x.shape[3]], geo, f)),
      ],
      specs,
    );
    const outs = await (await compile(g)).run([x, w, nd(c.cotangent)]);
    wf.forEach((f, i) => assertClose(outs[i], c.grads[1]!.data, 1e-4, 1e-4, `${c.name}: dW by '${f}'`));
    xf.forEach((f, i) => assertClose(outs[wf.length + i], c.grads[0]!.data, 1e-4, 1e-4, `${c.name}: dx by '${f}'`));
  }
});

test('conv2d gradients match finite differences, including second order (grad of grad)', async () => {
  await gradcheck(
    (x, w, b) => conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }),
    [testData([1, 4, 5, 5], 11), testData([2, 2, 3, 3], 12), testData([2], 13)],
  );
  // second order: f(x, w, a) = |dx|^2 + |dW|^2 with dx, dW the gradients of <conv2d(x, w), a>, which
  // exercises the VJPs of conv2d_input_grad and conv2d_weight_grad in all their inputs
  for (const opts of [{ stride: 2, padding: 1 }, { padding: 1 }] as Conv2dOptions[]) {
    const secondOrder = (x: Value, w: Value, a: Value): Value => {
      const [dx, dw] = grad(sum(mul(conv2d(x, w, null, opts), a)), [x, w]);
      return add(sum(mul(dx, dx)), sum(mul(dw, dw)));
    };
    const ho = opts.stride === 2 ? 2 : 4;
    await gradcheck(secondOrder, [
      testData([1, 2, 4, 4], 16),
      testData([1, 2, 3, 3], 17),
      testData([1, 1, ho, ho], 18),
    ]);
  }
});

test('conv2d keeps a symbolic batch dimension through forward and both gradients', async () => {
  const spec = [
    { name: 'x', shape: ['batch', 2, 5, 5] },
    { name: 'w', shape: [3, 2, 3, 3] },
  ];
  const g = trace((x: Value, w: Value) => {
    const y = conv2d(x, w, null, { padding: 1, stride: 2 });
    assert.deepEqual([...y.shape], ['batch', 3, 3, 3]);
    return [y, ...grad(sum(mul(y, y)), [x, w])];
  }, spec);
  const f = await compile(g);
  const x = testData([3, 2, 5, 5], 21),
    w = testData([3, 2, 3, 3], 22);
  const [y, dx, dw] = await f.run([x, w]);
  const ref = convRef(x, w, null, 2, 1, 1, 1);
  assertClose(y, ref, 1e-5, 1e-5);
  assert.deepEqual([...dx.shape], [3, 2, 5, 5]);
  assert.deepEqual([...dw.shape], [3, 2, 3, 3]);
});

test('conv2d bad inputs name the op, the shapes and the problem', () => {
  const t =
    (xs: number[], ws: number[], opts: Conv2dOptions = {}) =>
    () =>
      trace(
        (x: Value, w: Value) => conv2d(x, w, null, opts),
        [
          { name: 'x', shape: xs },
          { name: 'w', shape: ws },
        ],
      );
  assert.throws(
    t([1, 3, 5, 5], [4, 2, 3, 3]),
    (e: Error) =>
      /conv2d/.test(e.message) &&
      /\[1, 3, 5, 5\]/.test(e.message) &&
      /\[4, 2, 3, 3\]/.test(e.message) &&
      /input channels/.test(e.message),
  );
  assert.throws(t([1, 3, 5], [4, 3, 3, 3]), (e: Error) => /conv2d/.test(e.message) && /rank 4/.test(e.message));
  assert.throws(
    t([1, 3, 2, 2], [4, 3, 3, 3]),
    (e: Error) => /conv2d/.test(e.message) && /larger than the padded input/.test(e.message),
  );
  assert.throws(
    t([1, 4, 5, 5], [4, 2, 3, 3], { groups: 3 }),
    (e: Error) => /conv2d/.test(e.message) && /divisible by groups 3/.test(e.message),
  );
  assert.throws(
    t([1, 3, 5, 5], [4, 3, 3, 3], { stride: 0 }),
    (e: Error) => /conv2d/.test(e.message) && /stride/.test(e.message) && /\[1, 3, 5, 5\]/.test(e.message),
  );
  assert.throws(
    t([1, 3, 5, 5], [4, 3, 3, 3], { padding: 'same', stride: 2 }),
    (e: Error) => /conv2d/.test(e.message) && /'same' needs stride 1/.test(e.message),
  );
  assert.throws(
    t([1, 3, 5, 5], [4, 3, 3, 3], { padding: [1, 2, 3] as unknown as number[] }),
    (e: Error) => /conv2d/.test(e.message) && /padding must be/.test(e.message),
  );
});

test('the per-shape formulation rules pick what their doc comments say', () => {
  const geo = (o: Conv2dOptions) => convGeometry('conv2d', o, [3, 3]);
  assert.equal(chooseInputGradFormulation(geo({ padding: 1 }), [3, 3]), 'flipped_conv');
  assert.equal(chooseInputGradFormulation(geo({ padding: 1, stride: 2 }), [3, 3]), 'conv_transpose');
  assert.equal(chooseInputGradFormulation(geo({ padding: 3 }), [3, 3]), 'conv_transpose'); // pad > kernel extent 2
  assert.equal(chooseInputGradFormulation(geo({ padding: 4, dilation: 2 }), [3, 3]), 'flipped_conv'); // extent 4
  // im2col while the patch matrix fits IM2COL_MAX_BYTES (symbolic batch counted as 64)
  // (limit 32 MiB since issue 6's memory measurements)
  assert.equal(chooseWeightGradFormulation(8, 64, [3, 3], [32, 32], [2, 2]), 'im2col'); // 19 MB, strided
  assert.equal(chooseWeightGradFormulation(64, 64, [3, 3], [14, 14], [2, 2]), 'im2col'); // 29 MB: unet-s's stride-2 down-sampling conv
  // stride 1: per-tap at any size from PER_TAP_MIN_CHANNELS input channels on; a 1x1 kernel or fewer channels keep im2col
  assert.equal(chooseWeightGradFormulation(64, 64, [3, 3], [14, 14]), 'shifted');
  assert.equal(chooseWeightGradFormulation(64, PER_TAP_MIN_CHANNELS - 1, [3, 3], [14, 14]), 'im2col');
  assert.equal(chooseWeightGradFormulation(64, 1, [3, 3], [28, 28]), 'im2col'); // the 1-channel first layer (1.8 MB)
  assert.equal(chooseWeightGradFormulation(64, 64, [1, 1], [14, 14]), 'im2col'); // x itself is the patch matrix
  assert.equal(chooseWeightGradFormulation(64, 32, [3, 3], [28, 28]), 'shifted'); // 58 MB: unet-s's 28x28 convs
  assert.equal(chooseWeightGradFormulation(64, 512, [3, 3], [64, 64]), 'shifted'); // 4.8 GB
  assert.equal(chooseWeightGradFormulation('batch', 64, [3, 3], [32, 32]), 'shifted'); // 151 MB at batch 64
  assert.ok(4 * 8 * 64 * 9 * 1024 <= IM2COL_MAX_BYTES);
});
