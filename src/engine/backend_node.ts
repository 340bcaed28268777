/**
 * The Node.js session backend: onnxruntime-node (CPU by default; CUDA etc. where the user's build has them).
 * The engine loads it by default in Node (see backend.ts); browser bundles never import this file.
 *
 * @example
 *   const session = await nodeBackend.createSession(modelBytes, { intraOpNumThreads: 2 });
 */
import os from 'node:os';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import type { BackendOutput, BackendSession, BackendTensor, RuntimeBackend, SessionOptions } from './backend.ts';

/** Available cores (the same number backend.ts's hostParallelism gives before this module loads). */
function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

class NodeSession implements BackendSession {
  constructor(private readonly session: ort.InferenceSession) {}

  async run(
    feeds: Record<string, BackendTensor>,
    outputs?: Record<string, BackendTensor>,
  ): Promise<Record<string, BackendOutput>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, [...t.dims]);
    let out: ort.InferenceSession.OnnxValueMapType;
    if (outputs && Object.keys(outputs).length) {
      // preallocated outputs: ORT writes into these buffers (the others it allocates itself)
      const fetches: Record<string, ort.Tensor | null> = Object.fromEntries(
        this.session.outputNames.map((n) => [n, null]),
      );
      for (const [name, t] of Object.entries(outputs)) fetches[name] = new ort.Tensor(t.type, t.data, [...t.dims]);
      out = await this.session.run(ortFeeds, fetches);
    } else out = await this.session.run(ortFeeds);
    const result: Record<string, BackendOutput> = {};
    for (const [name, t] of Object.entries(out))
      result[name] = { data: (t as ort.Tensor).data as ArrayLike<number | bigint>, dims: (t as ort.Tensor).dims };
    return result;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

let nchwcProbe: Promise<number> | undefined;

/**
 * The NCHWc block size of this onnxruntime-node build on this CPU (8 with AVX2, 16 with AVX-512; it
 * is MLAS's runtime choice and not exposed to JS), found by running ReorderInput on x[c, w] = 2c + w
 * (32 channels, width 2): in NCHWc with block b, x[0, 1] = 1 lands at flat index b. 0 when the kernel
 * is missing or the answer is not a plausible block (the engine then uses standard Conv only).
 */
function probeNchwcBlock(): Promise<number> {
  nchwcProbe ??= (async () => {
    try {
      const bytes = nchwcProbeModel();
      const session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'disabled',
        intraOpNumThreads: 1,
      });
      const x = Float32Array.from({ length: 64 }, (_, i) => i); // [1, 32, 1, 2]: x[c, w] = 2c + w
      const out = await session.run({ x: new ort.Tensor('float32', x, [1, 32, 1, 2]) });
      const y = (Object.values(out)[0] as ort.Tensor).data as Float32Array;
      await session.release();
      const b = y.indexOf(1);
      return [4, 8, 16, 32].includes(b) ? b : 0;
    } catch {
      return 0;
    }
  })();
  return nchwcProbe;
}

/** A model with one com.microsoft.nchwc ReorderInput of x [1, 32, 1, 2]. */
function nchwcProbeModel(): Uint8Array {
  const { onnx } = onnxProto;
  const info = (name: string, dims?: number[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, ...(dims ? { shape: { dim: dims.map((d) => ({ dimValue: d })) } } : {}) } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft.nchwc', version: 1 },
      ],
      graph: {
        name: 'nchwc_probe',
        node: [{ name: 'probe', opType: 'ReorderInput', domain: 'com.microsoft.nchwc', input: ['x'], output: ['y'] }],
        input: [info('x', [1, 32, 1, 2])],
        output: [info('y')],
      },
    }),
  ).finish();
}

/** onnxruntime-node as a RuntimeBackend. */
export const nodeBackend: RuntimeBackend = {
  name: 'onnxruntime-node',
  defaultThreads,
  nchwcBlockSize: probeNchwcBlock,
  async createSession(bytes: Uint8Array, options: SessionOptions): Promise<BackendSession> {
    const opts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.intraOpNumThreads ?? defaultThreads(),
      interOpNumThreads: options.interOpNumThreads ?? 1,
      executionMode: options.executionMode ?? 'sequential',
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      enableCpuMemArena: options.enableCpuMemArena ?? true,
      // off by default: with it ORT reserves the whole planned pattern (unet-s train step b64: 2.1 GiB
      // peak RSS instead of 1.2 GiB) and runs no faster (BENCHMARKS.md, lever train-memory / sample-memory)
      enableMemPattern: options.enableMemPattern ?? false,
      executionProviders: options.executionProviders ?? ['cpu'],
      // no spin-waiting between ops by default: on a shared machine spinning threads steal the cores
      // the other work needs (unet-s train step 1.5x, mlp-2d sampling 1.45x faster without, 2 threads,
      // load ~10; BENCHMARKS.md, levers threads / threads-mlp); the session config may say otherwise
      extra: { 'session.intra_op.allow_spinning': '0', ...options.config },
    };
    return new NodeSession(await ort.InferenceSession.create(bytes, opts));
  },
};
