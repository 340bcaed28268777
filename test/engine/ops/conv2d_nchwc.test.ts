/**
 * The NCHWc lowering of convolutions with run-time weights (ops/_conv.ts, emitConv): ONNX Runtime's
 * com.microsoft.nchwc Conv fed with weights reordered in the graph must equal the plain-loop
 * reference (forward) and the portable lowering (nchwc: false; input and weight gradients), for
 * both blocked weight layouts (C a multiple of the block, C below it), bias, stride, padding and
 * dilation, a symbolic batch, and fall back to standard Conv where the kernel does not apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  compile,
  conv2d,
  getBackend,
  grad,
  mul,
  sum,
  trace,
  type Conv2dOptions,
  type NDArray,
  type Value,
} from '../../../src/engine/index.ts';
import { constant } from '../../../src/engine/trace.ts';
import { assertClose, testData } from '../_gradcheck.ts';
import { convRef } from './_conv_ref.ts';

const block = (await (await getBackend()).nchwcBlockSize?.()) ?? 0;
const usesNchwc = (bytes: Uint8Array): boolean => Buffer.from(bytes).includes('com.microsoft.nchwc');

/** x86 SIMD level from /proc/cpuinfo ('' elsewhere): MLAS uses blocks of 16 with AVX-512F, 8 with AVX2. */
function x86Simd(): 'avx512f' | 'avx2' | '' {
  try {
    const flags =
      readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        .split(/\s+/) ?? [];
    return flags.includes('avx512f') ? 'avx512f' : flags.includes('avx2') ? 'avx2' : '';
  } catch {
    return '';
  }
}

const simd = x86Simd();
test('the Node backend reports the NCHWc block of this CPU (8 with AVX2, 16 with AVX-512)', {
  skip: simd ? false : 'not an x86 CPU with AVX2 (no known block size to expect)',
}, () => {
  // with AVX-512F MLAS may still choose its AVX2 kernels (8) on some CPUs
  if (simd === 'avx512f') assert.ok(block === 16 || block === 8, `block ${block}`);
  else assert.equal(block, 8);
});

interface Case {
  name: string;
  C: number;
  Co: number;
  H: number;
  opts: Conv2dOptions;
  bias: boolean;
  s: number;
  p: number;
  d: number;
  expectNchwc: boolean;
}
const B = block || 8;
const cases: Case[] = [
  {
    name: 'C and Co multiples of the block, 3x3 pad 1, bias',
    C: 2 * B,
    Co: 2 * B,
    H: 9,
    opts: { padding: 1 },
    bias: true,
    s: 1,
    p: 1,
    d: 1,
    expectNchwc: true,
  },
  {
    name: 'C below the block (first layer, OIHWBo), Co = block',
    C: 1,
    Co: B,
    H: 8,
    opts: { padding: 1 },
    bias: true,
    s: 1,
    p: 1,
    d: 1,
    expectNchwc: true,
  },
  {
    name: 'stride 2 (downsampling), no bias',
    C: B,
    Co: 3 * B,
    H: 9,
    opts: { stride: 2, padding: 1 },
    bias: false,
    s: 2,
    p: 1,
    d: 1,
    expectNchwc: true,
  },
  {
    name: 'dilation 2, pad 2',
    C: B,
    Co: B,
    H: 10,
    opts: { padding: 2, dilation: 2 },
    bias: true,
    s: 1,
    p: 2,
    d: 1,
    expectNchwc: true,
  },
  {
    name: 'Co below the block: forward standard Conv, dx (Co -> C channels) NCHWc',
    C: B,
    Co: 3,
    H: 7,
    opts: { padding: 1 },
    bias: true,
    s: 1,
    p: 1,
    d: 1,
    expectNchwc: true,
  },
  {
    name: 'C and Co off the block: standard Conv both ways',
    C: B + 4,
    Co: 3,
    H: 7,
    opts: { padding: 1 },
    bias: true,
    s: 1,
    p: 1,
    d: 1,
    expectNchwc: false,
  },
];
cases[3].d = 2;

for (const c of cases) {
  test(`NCHWc conv lowering: ${c.name}`, async () => {
    const N = 3;
    const x = testData([N, c.C, c.H, c.H], 1),
      w = testData([c.Co, c.C, 3, 3], 2, -0.5, 0.5),
      b = testData([c.Co], 3);
    const Ho = Math.floor((c.H + 2 * c.p - c.d * 2 - 1) / c.s) + 1;
    const a = testData([N, c.Co, Ho, Ho], 4);
    const specs = [
      { name: 'x', shape: ['batch', c.C, c.H, c.H] },
      { name: 'w', shape: w.shape },
      { name: 'b', shape: b.shape },
      { name: 'a', shape: ['batch', c.Co, Ho, Ho] },
    ];
    // forward and the gradients of sum(conv(x, w) * a): dx goes through conv2d_input_grad's flipped conv
    const fn = (xv: Value, wv: Value, bv: Value, av: Value): Value[] => {
      const y = conv2d(xv, wv, c.bias ? bv : null, c.opts);
      return [y, ...grad(sum(mul(y, av)), [xv, wv])];
    };
    const fast = await compile(trace(fn, specs), { nchwc: true });
    const portable = await compile(trace(fn, specs), { nchwc: false });
    assert.equal(usesNchwc(portable.modelBytes), false);
    if (block) assert.equal(usesNchwc(fast.modelBytes), c.expectNchwc, 'lowering chosen');
    const [y, dx, dw] = await fast.run({ x, w, b, a });
    const [y0, dx0, dw0] = await portable.run({ x, w, b, a });
    assertClose(y, convRef(x, w, c.bias ? b : null, c.s, c.p, c.d, 1), 1e-5, 1e-5, 'forward vs plain loop');
    assertClose(y, y0, 1e-5, 1e-5, 'forward vs portable');
    assertClose(dx, dx0, 1e-5, 1e-5, 'dx vs portable');
    assertClose(dw, dw0, 1e-5, 1e-5, 'dW vs portable');
  });
}

test('NCHWc lowering leaves convolutions with constant weights to ONNX Runtime (and plain exports stay standard ONNX)', async () => {
  const w = testData([B, B, 3, 3], 5);
  const g = trace((xv: Value) => conv2d(xv, constant(w), null, { padding: 1 }), [{ name: 'x', shape: [2, B, 6, 6] }]);
  const f = await compile(g, { nchwc: true });
  assert.equal(usesNchwc(f.modelBytes), false);
  const x = testData([2, B, 6, 6], 6);
  const [y] = await f.run({ x });
  assertClose(y as NDArray, convRef(x, w, null, 1, 1, 1, 1), 1e-5, 1e-5);
});
