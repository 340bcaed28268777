/**
 * Exploration for conv2d_weight_grad at the unet-s training shapes (3x3, stride 1, pad 1): the
 * engine's per-tap batched form (Slice of padded x per tap, MatMul per sample [C, L] x [L, Co],
 * ReduceSum over the batch) against per-tap single GEMMs with the batch folded into the
 * contraction ([C, N L] x [N L, Co], x and g transposed once per conv), written as raw ONNX.
 *
 *   npx tsx bench/dw_gemm_explore.ts [--threads N] [--reps N]
 */
import * as ort from 'onnxruntime-node';
import { Builder } from './conv_dw_explore.ts';
import { stats } from './engine.ts';

const args = process.argv.slice(2);
const opt = (f: string, d: string): string => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : d;
};
const threads = Number(opt('--threads', '1'));
const reps = Number(opt('--reps', '9'));

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return a;
}

for (const [N, C, Co, H] of [
  [64, 64, 64, 28],
  [64, 96, 32, 28],
  [64, 32, 32, 28],
  [64, 128, 64, 14],
]) {
  const L = H * H;
  const x = new ort.Tensor('float32', fill(N * C * L, 1), [N, C, H, H]);
  const g = new ort.Tensor('float32', fill(N * Co * L, 2), [N, Co, H, H]);
  const variants: { name: string; bytes: Uint8Array }[] = [];
  const taps = (b: Builder, f: (i: number, j: number) => string): string => {
    const outs: string[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) outs.push(b.op('Unsqueeze', [f(i, j), b.i64([-1])]));
    return b.op('Concat', outs, { axis: -1 });
  };
  {
    // engine today: per-tap batched MatMul [N, C, L] x [N, L, Co] + ReduceSum over N
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, Co, H, H]);
    const xp = b.op('Pad', ['x', b.i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const gT = b.op('Transpose', [b.op('Reshape', ['g', b.i64([N, Co, L])])], { perm: [0, 2, 1] });
    b.output(
      taps(b, (i, j) => {
        const xs = b.op('Reshape', [
          b.op('Slice', [xp, b.i64([i, j]), b.i64([i + H, j + H]), b.i64([2, 3])]),
          b.i64([N, C, L]),
        ]);
        return b.op('ReduceSum', [b.op('MatMul', [xs, gT]), b.i64([0])], { keepdims: 0 });
      }),
    );
    variants.push({ name: 'batched per-tap MatMul + ReduceSum (engine)', bytes: b.bytes() });
  }
  {
    // single GEMM per tap: x^T [C, N, Hp, Wp] sliced, [C, N L] x [N L, Co]
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, Co, H, H]);
    const xpT = b.op('Pad', [b.op('Transpose', ['x'], { perm: [1, 0, 2, 3] }), b.i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const gT = b.op('Reshape', [b.op('Transpose', ['g'], { perm: [0, 2, 3, 1] }), b.i64([N * L, Co])]);
    b.output(
      taps(b, (i, j) => {
        const xs = b.op('Reshape', [
          b.op('Slice', [xpT, b.i64([i, j]), b.i64([i + H, j + H]), b.i64([2, 3])]),
          b.i64([C, N * L]),
        ]);
        return b.op('MatMul', [xs, gT]);
      }),
    );
    variants.push({ name: 'one GEMM per tap, batch in K: [C, NL] x [NL, Co]', bytes: b.bytes() });
  }
  {
    // single GEMM per tap, other orientation: g^T [Co, N L] x xs^T [N L, C] via transB (Gemm)
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, Co, H, H]);
    const xpT = b.op('Pad', [b.op('Transpose', ['x'], { perm: [1, 0, 2, 3] }), b.i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const gT = b.op('Reshape', [b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] }), b.i64([Co, N * L])]);
    b.output(
      taps(b, (i, j) => {
        const xs = b.op('Reshape', [
          b.op('Slice', [xpT, b.i64([i, j]), b.i64([i + H, j + H]), b.i64([2, 3])]),
          b.i64([C, N * L]),
        ]);
        return b.op('Gemm', [gT, xs], { transB: 1 });
      }),
    );
    variants.push({ name: 'one Gemm per tap: [Co, NL] x [C, NL]^T', bytes: b.bytes() });
  }
  {
    // shift g instead of x (cheaper when Co < C): dW[o,c,i,j] = sum g~_ij[n,o,h,w] x[n,c,h,w]
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, Co, H, H]);
    const gp = b.op('Pad', ['g', b.i64([0, 0, 1, 1, 0, 0, 1, 1])]);
    const xr = b.op('Reshape', ['x', b.i64([N, C, L])]);
    b.output(
      taps(b, (i, j) => {
        // xpad[h + i] = x[h + i - 1]  <=>  sum_h g[h] x[h + i - 1] = sum_h' g[h' - i + 1] x[h']: g shifted by (1 - i, 1 - j)
        const gs = b.op('Reshape', [
          b.op('Slice', [gp, b.i64([2 - i, 2 - j]), b.i64([2 - i + H, 2 - j + H]), b.i64([2, 3])]),
          b.i64([N, Co, L]),
        ]);
        const gsT = b.op('Transpose', [gs], { perm: [0, 2, 1] });
        return b.op('ReduceSum', [b.op('MatMul', [xr, gsT]), b.i64([0])], { keepdims: 0 });
      }),
    );
    variants.push({ name: 'batched per-tap, g shifted instead of x', bytes: b.bytes() });
  }
  {
    // im2col of g by a one-hot depthwise Conv (constant kernel), then one batched MatMul [C, L] x [L, 9 Co]
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, Co, H, H]);
    // tap t = (i, j) of x pairs with g shifted by (1 - i, 1 - j): out[h] = g[h + 1 - i] = gpad[h + 2 - i], kernel position 2 - i
    const e = new Float32Array(Co * 9 * 9);
    for (let o = 0; o < Co; o++)
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) e[((o * 9 + i * 3 + j) * 3 + (2 - i)) * 3 + (2 - j)] = 1;
    const col = b.op('Conv', ['g', b.f32(e, [Co * 9, 1, 3, 3])], {
      group: Co,
      pads: [1, 1, 1, 1],
      kernel_shape: [3, 3],
    }); // [N, Co 9, H, W]
    const colT = b.op('Transpose', [b.op('Reshape', [col, b.i64([N, Co * 9, L])])], { perm: [0, 2, 1] });
    const m = b.op('ReduceSum', [b.op('MatMul', [b.op('Reshape', ['x', b.i64([N, C, L])]), colT]), b.i64([0])], {
      keepdims: 0,
    }); // [C, Co 9]
    b.output(b.op('Reshape', [m, b.i64([C, Co, 9])]));
    variants.push({ name: 'im2col of g (one-hot depthwise Conv) + one MatMul', bytes: b.bytes() });
  }
  const sessions = await Promise.all(
    variants.map((v) =>
      ort.InferenceSession.create(v.bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        enableMemPattern: false,
        extra: { 'session.intra_op.allow_spinning': '0' },
      }),
    ),
  );
  const outs: Float32Array[] = [];
  for (const s of sessions) outs.push(Object.values(await s.run({ x, g }))[0].data as Float32Array);
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < reps; r++)
    for (let i = 0; i < sessions.length; i++) {
      const t0 = performance.now();
      await sessions[i].run({ x, g });
      times[i].push(performance.now() - t0);
    }
  const gflop = (2 * N * C * Co * L * 9) / 1e9;
  console.log(
    `\ndW, N${N} C${C} Co${Co} ${H}x${H} 3x3 (${gflop.toFixed(2)} GFLOP), ${threads} thread(s); outputs [C, Co, 9] (one as [Co, C, 9])`,
  );
  variants.forEach((v, i) => {
    const s = stats(times[i]);
    let d = 0;
    const a = outs[0],
      o = outs[i];
    // the Gemm variant is [Co, C, 9]: compare transposed
    const tr = v.name.startsWith('one Gemm');
    for (let c = 0; c < C; c++)
      for (let k = 0; k < Co; k++)
        for (let t = 0; t < 9; t++)
          d = Math.max(d, Math.abs(a[(c * Co + k) * 9 + t] - (tr ? o[(k * C + c) * 9 + t] : o[(c * Co + k) * 9 + t])));
    console.log(
      `  ${v.name.padEnd(52)} median ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}), ${((gflop / s.median) * 1000).toFixed(1)} GFLOP/s, max |diff| ${d.toExponential(1)}`,
    );
  });
}
