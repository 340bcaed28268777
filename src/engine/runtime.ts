/**
 * Runtime: compile a traced Graph into an ONNX Runtime session (cached per graph signature)
 * and run it with NDArrays in and out.
 *
 * @example
 *   const f = await compile(trace((x) => exp(x), [{ name: 'x', shape: [3] }]));
 *   const [y] = await f.run({ x: NDArray.from([0, 1, 2]) });
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Graph, Node } from './graph.ts';
import { NDArray, sizeOf } from './ndarray.ts';
import { toOnnxProto, type NodeOrigin } from './onnx.ts';
import onnxProto from 'onnx-proto';

export interface SessionOptions {
  /** Threads inside one op (default: available cores). */
  intraOpNumThreads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Use ONNX Runtime's memory arena (default true). */
  enableCpuMemArena?: boolean;
  /** Reuse memory patterns between runs of the same shapes (default true). */
  enableMemPattern?: boolean;
  /** Execution providers (default ['cpu']). */
  executionProviders?: string[];
}

export type Feeds = Record<string, NDArray | BigInt64Array | Int32Array>;

/** A compiled graph: run it with named NDArray inputs, get NDArray outputs in order. */
export class Executable {
  constructor(
    readonly session: ort.InferenceSession,
    readonly graph: Graph,
    private readonly origin: NodeOrigin,
    readonly modelBytes: Uint8Array,
  ) {}

  get inputNames(): string[] { return this.graph.inputs.map((v) => v.name!); }
  get outputNames(): string[] { return this.graph.outputs.map((v) => v.name!); }

  /** Run with inputs by name (or positionally); returns outputs in graph order. */
  async run(feeds: Feeds | NDArray[]): Promise<NDArray[]> {
    const named: Feeds = Array.isArray(feeds) ? Object.fromEntries(feeds.map((a, i) => [this.inputNames[i], a])) : feeds;
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const v of this.graph.inputs) {
      const a = named[v.name!];
      if (a === undefined) throw new Error(`run: missing input '${v.name}' (expected inputs: ${this.inputNames.join(', ')})`);
      if (a instanceof NDArray) {
        if (a.ndim !== v.shape.length || v.shape.some((d, i) => typeof d === 'number' && d !== a.shape[i])) {
          throw new Error(`run: input '${v.name}' has shape [${a.shape.join(', ')}], the graph expects [${v.shape.join(', ')}]`);
        }
        if (v.dtype === 'int64') ortFeeds[v.name!] = new ort.Tensor('int64', BigInt64Array.from(a.data, (x) => BigInt(Math.round(x))), [...a.shape]);
        else ortFeeds[v.name!] = new ort.Tensor('float32', a.data, [...a.shape]);
      } else {
        const shape = v.shape.map((d) => (typeof d === 'number' ? d : a.length));
        const data = a instanceof BigInt64Array ? a : BigInt64Array.from(a, (x) => BigInt(x));
        ortFeeds[v.name!] = new ort.Tensor('int64', data, shape);
      }
    }
    for (const k of Object.keys(named)) {
      if (!this.inputNames.includes(k)) throw new Error(`run: unknown input '${k}' (expected inputs: ${this.inputNames.join(', ')})`);
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (e) {
      throw explain(e as Error, this.origin, 'running');
    }
    return this.outputNames.map((n) => {
      const t = out[n] as ort.Tensor;
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number | bigint>, Number);
      const shape = t.dims.map(Number);
      if (sizeOf(shape) !== data.length) throw new Error(`run: output '${n}' size mismatch`);
      return new NDArray(shape, data);
    });
  }
}

/** Turn a bare native error into one that names the traced op and where it was called. */
function explain(e: Error, origin: NodeOrigin, phase: string): Error {
  const msg = e.message ?? String(e);
  for (const [nodeName, node] of origin) {
    const re = new RegExp(`\\b${nodeName}\\b`);
    if (re.test(msg)) {
      return new Error(`ONNX Runtime rejected op '${node.op}' (node ${nodeName}, called at ${node.caller}) while ${phase}: ${msg}`, { cause: e });
    }
  }
  return new Error(`ONNX Runtime failed while ${phase}: ${msg}`, { cause: e });
}

const cache = new Map<string, Promise<Executable>>();

export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Compile (or fetch from the cache) an ONNX Runtime session for `graph`. */
export async function compile(graph: Graph, options: SessionOptions = {}): Promise<Executable> {
  const { model, origin } = toOnnxProto(graph);
  const bytes = onnxProto.onnx.ModelProto.encode(model).finish();
  const key = createHash('sha256').update(bytes).update(JSON.stringify(options)).digest('hex');
  let hit = cache.get(key);
  if (!hit) {
    hit = (async () => {
      const opts: ort.InferenceSession.SessionOptions = {
        intraOpNumThreads: options.intraOpNumThreads ?? defaultThreads(),
        interOpNumThreads: 1,
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        enableCpuMemArena: options.enableCpuMemArena ?? true,
        enableMemPattern: options.enableMemPattern ?? true,
        executionProviders: options.executionProviders ?? ['cpu'],
      };
      try {
        const session = await ort.InferenceSession.create(bytes, opts);
        return new Executable(session, graph, origin, bytes);
      } catch (e) {
        throw explain(e as Error, origin, 'loading the model');
      }
    })();
    hit.catch(() => cache.delete(key));
    cache.set(key, hit);
  }
  return hit;
}

/** Forget cached sessions (frees their memory). */
export async function clearCache(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try { await (await p).session.release(); } catch { /* already failed */ }
  }
}

export type { Node };
