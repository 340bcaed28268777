/**
 * Exploration: ONNX Runtime's NCHWc convolution (com.microsoft.nchwc Conv, the kernel its level-3
 * transformer uses for constant weights) fed with weights that are graph inputs and reordered in the
 * graph, against the plain Conv with the same input weights and against the transformer's own NCHWc
 * path with constant weights.
 *
 *   npx tsx bench/nchwc_explore.ts [--threads N] [--reps N]
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
const NS = 'com.microsoft.nchwc';

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return a;
}

async function probeBlock(): Promise<number> {
  // x[c, w] = 2 c + w over 32 channels and width 2: in NCHWc with block b the element x[0, 1] = 1 lands at index b
  const b = new Builder();
  b.input('x', [1, 32, 1, 2]);
  b.output(b.op('ReorderInput', ['x'], {}, NS));
  const s = await ort.InferenceSession.create(b.bytes(), { graphOptimizationLevel: 'disabled' });
  const x = new Float32Array(64).map((_, i) => 2 * Math.floor(i / 2) + (i % 2));
  const y = Object.values(await s.run({ x: new ort.Tensor('float32', x, [1, 32, 1, 2]) }))[0].data as Float32Array;
  return y.indexOf(1);
}

const B = await probeBlock();
console.log(`NCHWc block size: ${B}`);

for (const [N, C, O, H, k] of [
  [64, 64, 64, 28, 3],
  [64, 96, 32, 28, 3],
  [64, 64, 64, 14, 3],
  [64, 32, 32, 28, 3],
]) {
  const x = fill(N * C * H * H, 1),
    w = fill(O * C * k * k, 2);
  const pads = [1, 1, 1, 1];
  const variants: { name: string; bytes: Uint8Array; feeds: Record<string, ort.Tensor> }[] = [];
  const xt = new ort.Tensor('float32', x, [N, C, H, H]);
  const wt = new ort.Tensor('float32', w, [O, C, k, k]);
  {
    // plain Conv, W input
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('w', [O, C, k, k]);
    b.output(b.op('Conv', ['x', 'w'], { pads, kernel_shape: [k, k] }));
    variants.push({ name: 'Conv, W input', bytes: b.bytes(), feeds: { x: xt, w: wt } });
  }
  {
    // plain Conv, W constant (ORT's NCHWc transformer)
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.output(b.op('Conv', ['x', b.f32(w, [O, C, k, k])], { pads, kernel_shape: [k, k] }));
    variants.push({ name: 'Conv, W constant (transformer NCHWc)', bytes: b.bytes(), feeds: { x: xt } });
  }
  {
    // explicit nchwc Conv, W input reordered in the graph (OIHWBiBo)
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('w', [O, C, k, k]);
    const wr = b.op('Reshape', [
      b.op('Transpose', [b.op('Reshape', ['w', b.i64([O / B, B, C / B, B, k * k])])], { perm: [0, 2, 4, 3, 1] }),
      b.i64([O, C, k, k]),
    ]);
    const xr = b.op('ReorderInput', ['x'], {}, NS);
    const y = b.op('Conv', [xr, wr], { pads, kernel_shape: [k, k] }, NS);
    b.output(b.op('ReorderOutput', [y], { channels: O }, NS));
    variants.push({ name: 'nchwc Conv, W input reordered in-graph', bytes: b.bytes(), feeds: { x: xt, w: wt } });
  }
  if (k === 3 && C % B === 0 && O % B === 0) {
    // dW as one "valid" nchwc Conv: x^T [C, N, H, W] with kernel g^T [O, N, H, W]
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('g', [N, O, H, H]);
    const xT = b.op('Transpose', ['x'], { perm: [1, 0, 2, 3] });
    const gT = b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] });
    const wr = b.op('Reshape', [
      b.op('Transpose', [b.op('Reshape', [gT, b.i64([O / B, B, N / B, B, H * H])])], { perm: [0, 2, 4, 3, 1] }),
      b.i64([O, N, H, H]),
    ]);
    const y = b.op('Conv', [b.op('ReorderInput', [xT], {}, NS), wr], { pads, kernel_shape: [H, H] }, NS);
    b.output(b.op('Transpose', [b.op('ReorderOutput', [y], { channels: O }, NS)], { perm: [1, 0, 2, 3] }));
    variants.push({
      name: 'dW: valid nchwc Conv (x^T, kernel g^T)',
      bytes: b.bytes(),
      feeds: { x: xt, g: new ort.Tensor('float32', fill(N * O * H * H, 3), [N, O, H, H]) },
    });
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
  for (let i = 0; i < sessions.length; i++) {
    const r = await sessions[i].run(variants[i].feeds);
    outs.push(Object.values(r)[0].data as Float32Array);
  }
  const maxDiff = (a: Float32Array, b: Float32Array): number => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < sessions.length; i++) {
      const t0 = performance.now();
      await sessions[i].run(variants[i].feeds);
      times[i].push(performance.now() - t0);
    }
  }
  const gflop = (2 * N * O * C * H * H * k * k) / 1e9;
  console.log(`\nN${N} C${C} -> O${O} ${H}x${H} ${k}x${k} (${gflop.toFixed(2)} GFLOP), ${threads} thread(s)`);
  variants.forEach((v, i) => {
    const s = stats(times[i]);
    console.log(
      `  ${v.name.padEnd(42)} median ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}), ${((gflop / s.median) * 1000).toFixed(1)} GFLOP/s, max |diff| vs first ${maxDiff(outs[0], outs[i]).toExponential(1)}`,
    );
  });
}
