/**
 * Exploration of dW (and dx) formulations for conv 3x3, 32x64x32x32, stride 1, pad 1, written as raw
 * ONNX graphs (not through the engine), so that formulations the engine does not implement can be
 * compared too. This is how conv2d_weight_grad's 'im2col' lowering was chosen; the rows of the engine
 * suite time the formulations that the engine implements.
 *
 * Run: `npm run bench -- conv-explore` (writes its section of BENCHMARKS.md), or with
 * `npx tsx bench/run.ts conv-explore --no-write`. Alternatives are timed in interleaved rounds.
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { defaultThreads } from '../src/engine/index.ts';
import { stats, type Stats } from './engine.ts';

const { onnx } = onnxProto;

/** A tiny ONNX graph builder (float32 inputs/outputs, int64/float initializers). */
export class Builder {
  nodes: onnxProto.onnx.INodeProto[] = [];
  inits: onnxProto.onnx.ITensorProto[] = [];
  inputs: onnxProto.onnx.IValueInfoProto[] = [];
  outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private n = 0;
  private domains = new Set<string>();
  input(name: string, shape: number[]): string {
    this.inputs.push({
      name,
      type: { tensorType: { elemType: 1, shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
    });
    return name;
  }
  output(name: string): void {
    this.outputs.push({ name, type: { tensorType: { elemType: 1 } } });
  }
  op(type: string, ins: string[], attrs: Record<string, number | number[]> = {}, domain = ''): string {
    const out = `t${this.n++}`;
    const T = onnx.AttributeProto.AttributeType;
    if (domain) this.domains.add(domain);
    this.nodes.push({
      opType: type,
      input: ins,
      output: [out],
      name: `n${this.n++}`,
      domain,
      attribute: Object.entries(attrs).map(([name, a]) =>
        Array.isArray(a) ? { name, type: T.INTS, ints: a } : { name, type: T.INT, i: a },
      ),
    });
    return out;
  }
  i64(v: number[]): string {
    const name = `c${this.n++}`;
    const raw = new BigInt64Array(v.map((x) => BigInt(x)));
    this.inits.push({ name, dataType: 7, dims: [v.length], rawData: new Uint8Array(raw.buffer) });
    return name;
  }
  f32(v: Float32Array, dims: number[]): string {
    const name = `c${this.n++}`;
    this.inits.push({ name, dataType: 1, dims, rawData: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    return name;
  }
  bytes(): Uint8Array {
    return onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
        graph: { name: 'explore', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      }),
    ).finish();
  }
}

const N = 32,
  C = 64,
  H = 32,
  K = 3,
  P = 1,
  HW = H * H;
const PADS = [0, 0, P, P, 0, 0, P, P];

function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s >>> 8) / 16777216 - 0.5;
  }
  return a;
}

/** One-hot depthwise kernels [C 9, 1, 3, 3]: output channel c 9 + t copies tap t of channel c. */
function oneHot(b: Builder): string {
  const e = new Float32Array(C * 81);
  for (let c = 0; c < C; c++) for (let t = 0; t < 9; t++) e[(c * 9 + t) * 9 + t] = 1;
  return b.f32(e, [C * 9, 1, K, K]);
}
const slices = (b: Builder, xp: string, axes: [number, number], unsqueezeAt: number): string[] => {
  const out: string[] = [];
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) {
      out.push(
        b.op('Unsqueeze', [
          b.op('Slice', [xp, b.i64([i, j]), b.i64([i + H, j + H]), b.i64(axes)]),
          b.i64([unsqueezeAt]),
        ]),
      );
    }
  return out;
};
const gT3 = (b: Builder): string => b.op('Transpose', [b.op('Reshape', ['g', b.i64([N, C, HW])])], { perm: [0, 2, 1] }); // [N, HW, Co]
const finish = (b: Builder, m: string): void => {
  // m [N, C 9, Co] -> dW
  b.output(
    b.op('Reshape', [
      b.op('Transpose', [b.op('ReduceSum', [m, b.i64([0])], { keepdims: 0 })], { perm: [1, 0] }),
      b.i64([C, C, K, K]),
    ]),
  );
};

type Variant = [string, (b: Builder) => void];
const variants: Variant[] = [
  [
    'forward Conv (reference)',
    (b) => {
      b.output(b.op('Conv', ['x', 'w'], { pads: [P, P, P, P], kernel_shape: [K, K] }));
    },
  ],
  [
    'dx: Conv with flipped, transposed W',
    (b) => {
      const wf = b.op('Slice', ['w', b.i64([-1, -1]), b.i64([-K - 1, -K - 1]), b.i64([2, 3]), b.i64([-1, -1])]);
      b.output(
        b.op('Conv', ['g', b.op('Transpose', [wf], { perm: [1, 0, 2, 3] })], {
          pads: [P, P, P, P],
          kernel_shape: [K, K],
        }),
      );
    },
  ],
  [
    'dx: ConvTranspose',
    (b) => {
      b.output(b.op('ConvTranspose', ['g', 'w'], { pads: [P, P, P, P], kernel_shape: [K, K] }));
    },
  ],
  [
    'dW: im2col by one-hot depthwise Conv, col @ g^T batched, ReduceSum (chosen)',
    (b) => {
      const col = b.op('Reshape', [
        b.op('Conv', ['x', oneHot(b)], { group: C, pads: [P, P, P, P], kernel_shape: [K, K] }),
        b.i64([N, C * 9, HW]),
      ]);
      finish(b, b.op('MatMul', [col, gT3(b)]));
    },
  ],
  [
    'dW: im2col by one-hot depthwise Conv, g @ col^T batched',
    (b) => {
      const col = b.op('Reshape', [
        b.op('Conv', ['x', oneHot(b)], { group: C, pads: [P, P, P, P], kernel_shape: [K, K] }),
        b.i64([N, C * 9, HW]),
      ]);
      const m = b.op('MatMul', [
        b.op('Reshape', ['g', b.i64([N, C, HW])]),
        b.op('Transpose', [col], { perm: [0, 2, 1] }),
      ]);
      b.output(b.op('Reshape', [b.op('ReduceSum', [m, b.i64([0])], { keepdims: 0 }), b.i64([C, C, K, K])]));
    },
  ],
  [
    'dW: im2col by Slices + Concat, col @ g^T batched',
    (b) => {
      const xp = b.op('Pad', ['x', b.i64(PADS)]);
      finish(
        b,
        b.op('MatMul', [
          b.op('Reshape', [b.op('Concat', slices(b, xp, [2, 3], 2), { axis: 2 }), b.i64([N, C * 9, HW])]),
          gT3(b),
        ]),
      );
    },
  ],
  [
    'dW: im2col by Slices + Concat as [C 9, N HW], one Gemm (transB)',
    (b) => {
      const xp = b.op('Transpose', [b.op('Pad', ['x', b.i64(PADS)])], { perm: [1, 0, 2, 3] });
      const col = b.op('Reshape', [b.op('Concat', slices(b, xp, [2, 3], 1), { axis: 1 }), b.i64([C * 9, N * HW])]);
      const g2 = b.op('Reshape', [b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] }), b.i64([C, N * HW])]);
      b.output(b.op('Reshape', [b.op('Gemm', [g2, col], { transB: 1 }), b.i64([C, C, K, K])]));
    },
  ],
  [
    'dW: NHWC im2col [N HW, 9 C], one MatMul',
    (b) => {
      const xp = b.op('Transpose', [b.op('Pad', ['x', b.i64(PADS)])], { perm: [0, 2, 3, 1] });
      const col = b.op('Reshape', [b.op('Concat', slices(b, xp, [1, 2], 3), { axis: 3 }), b.i64([N * HW, 9 * C])]);
      const g2 = b.op('Reshape', [b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] }), b.i64([C, N * HW])]);
      b.output(
        b.op('Transpose', [b.op('Reshape', [b.op('MatMul', [g2, col]), b.i64([C, K, K, C])])], { perm: [0, 3, 1, 2] }),
      );
    },
  ],
  [
    'dW: 9 shifted Slices, each g @ slice^T batched, ReduceSum',
    (b) => {
      const xp = b.op('Pad', ['x', b.i64(PADS)]);
      const g2 = b.op('Reshape', ['g', b.i64([N, C, HW])]);
      const parts: string[] = [];
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++) {
          const xs = b.op('Reshape', [
            b.op('Slice', [xp, b.i64([i, j]), b.i64([i + H, j + H]), b.i64([2, 3])]),
            b.i64([N, C, HW]),
          ]);
          parts.push(
            b.op('Unsqueeze', [
              b.op('ReduceSum', [b.op('MatMul', [g2, b.op('Transpose', [xs], { perm: [0, 2, 1] })]), b.i64([0])], {
                keepdims: 0,
              }),
              b.i64([2]),
            ]),
          );
        }
      b.output(b.op('Reshape', [b.op('Concat', parts, { axis: 2 }), b.i64([C, C, K, K])]));
    },
  ],
  [
    'dW: 9 shifted Slices, each slice @ g^T batched (engine "shifted")',
    (b) => {
      const xp = b.op('Pad', ['x', b.i64(PADS)]);
      const gT = gT3(b);
      const parts: string[] = [];
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++) {
          const xs = b.op('Reshape', [
            b.op('Slice', [xp, b.i64([i, j]), b.i64([i + H, j + H]), b.i64([2, 3])]),
            b.i64([N, C, HW]),
          ]);
          parts.push(
            b.op('Unsqueeze', [
              b.op('ReduceSum', [b.op('MatMul', [xs, gT]), b.i64([0])], { keepdims: 0 }),
              b.i64([-1]),
            ]),
          );
        }
      b.output(
        b.op('Reshape', [
          b.op('Transpose', [b.op('Concat', parts, { axis: -1 })], { perm: [1, 0, 2] }),
          b.i64([C, C, K, K]),
        ]),
      );
    },
  ],
  [
    'dW: one big "valid" Conv of x^T with kernel g^T',
    (b) => {
      const r = b.op(
        'Conv',
        [b.op('Transpose', ['x'], { perm: [1, 0, 2, 3] }), b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] })],
        { pads: [P, P, P, P], kernel_shape: [H, H] },
      );
      b.output(b.op('Transpose', [r], { perm: [1, 0, 2, 3] }));
    },
  ],
];

/** Time every variant in interleaved rounds; returns a markdown table. */
export async function convDwExplore(
  reps = 10,
  warmup = 2,
  threads = defaultThreads(),
  log: (s: string) => void = () => {},
): Promise<string> {
  const feeds = {
    x: new ort.Tensor('float32', fill(N * C * HW, 1), [N, C, H, H]),
    w: new ort.Tensor('float32', fill(C * C * 9, 2), [C, C, K, K]),
    g: new ort.Tensor('float32', fill(N * C * HW, 3), [N, C, H, H]),
  };
  const runs: { name: string; run: () => Promise<unknown>; ts: number[] }[] = [];
  for (const [name, build] of variants) {
    log(name);
    const b = new Builder();
    b.input('x', [N, C, H, H]);
    b.input('w', [C, C, K, K]);
    b.input('g', [N, C, H, H]);
    build(b);
    const s = await ort.InferenceSession.create(b.bytes(), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const used = Object.fromEntries(Object.entries(feeds).filter(([k]) => s.inputNames.includes(k)));
    runs.push({ name, run: () => s.run(used), ts: [] });
  }
  for (const r of runs) for (let i = 0; i < warmup; i++) await r.run();
  for (let i = 0; i < reps; i++) {
    for (const r of runs) {
      const t0 = performance.now();
      await r.run();
      r.ts.push(performance.now() - t0);
    }
  }
  const ms = (s: Stats): string => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
  return [
    '| formulation (raw ONNX, 3x3, 32x64x32x32, s1 p1) | ms, median (min–max) |',
    '|---|---|',
    ...runs.map((r) => `| ${r.name} | ${ms(stats(r.ts))} |`),
    '',
    'Also tried: com.microsoft ConvGrad (ORT training op) — not registered in onnxruntime-node.',
  ].join('\n');
}
