/**
 * Runtime: compile a traced Graph into an ONNX Runtime session (cached per graph signature)
 * and run it with NDArrays in and out.
 *
 * @example
 *   const f = await compile(trace((x) => exp(x), [{ name: 'x', shape: [3] }]));
 *   const [y] = await f.run({ x: NDArray.from([0, 1, 2]) });
 */
import type { Graph, Node } from './graph.ts';
import {
  currentBackend,
  getBackend,
  hostParallelism,
  type BackendSession,
  type BackendTensor,
  type SessionOptions as BackendSessionOptions,
} from './backend.ts';
import { NDArray, sizeOf } from './ndarray.ts';
import { toOnnxProto, type NodeOrigin } from './onnx.ts';
import {
  optimizeGraph,
  rematerialize,
  type OptimizeOptions,
  type RematOptions,
  type RematPolicy,
} from './optimize/index.ts';
import onnxProto from 'onnx-proto';

/** Options of `compile()`: the backend's session options plus the engine's own graph passes. */
export interface SessionOptions extends BackendSessionOptions {
  /**
   * Run the graph clean-up passes of src/engine/optimize (CSE, constant folding, reshape/transpose
   * cancellation, dead nodes) before export: true (default), false, or a choice of passes.
   */
  optimize?: boolean | OptimizeOptions;
  /**
   * Recompute chosen forward values in the backward pass of a training graph instead of keeping
   * them (optimize/remat.ts): 'elementwise' (default: cheap ops; unet-s train step b64 727 instead of
   * 762 MiB peak at 0.98x speed), 'all' (gradient checkpointing: 673 MiB, 0.84x; BENCHMARKS.md lever
   * remat), or false.
   * Applies to graphs with an output named 'loss' (or `forward`); others are left alone.
   */
  remat?: false | RematPolicy | RematOptions;
  /**
   * Lower convolutions whose weights are computed at run time (a training step's parameters) to ONNX
   * Runtime's NCHWc kernels when the backend has them and runs on the CPU provider only (default true;
   * ops/_conv.ts, emitConv).
   */
  nchwc?: boolean;
}

let defaults: SessionOptions = {};

/**
 * Options every later `compile()` starts from (its own options override them); returns the
 * previous defaults. @example setDefaultSessionOptions({ intraOpNumThreads: 1 })
 */
export function setDefaultSessionOptions(options: SessionOptions): SessionOptions {
  const prev = defaults;
  defaults = { ...options };
  return prev;
}
export { setBackend, getBackend, type RuntimeBackend } from './backend.ts';

export type Feeds = Record<string, NDArray | BigInt64Array | Int32Array>;

/** A compiled graph: run it with named NDArray inputs, get NDArray outputs in order. */
export class Executable {
  constructor(
    readonly session: BackendSession,
    readonly graph: Graph,
    private readonly origin: NodeOrigin,
    readonly modelBytes: Uint8Array,
  ) {}

  get inputNames(): string[] {
    return this.graph.inputs.map((v) => v.name!);
  }
  get outputNames(): string[] {
    return this.graph.outputs.map((v) => v.name!);
  }

  /**
   * Run with inputs by name (or positionally); returns outputs in graph order. `outputs` may give
   * NDArrays (by output name, float32, the output's shape) to write results into instead of fresh
   * ones — e.g. the buffers of an earlier step, so a training loop recycles its parameter arrays
   * instead of leaving one set per step to the garbage collector (BENCHMARKS.md, lever reuse-outputs).
   * @example const [y] = await f.run({ x }, { outputs: { output: yPrev } });
   */
  async run(feeds: Feeds | NDArray[], opts: { outputs?: Record<string, NDArray> } = {}): Promise<NDArray[]> {
    const named: Feeds = Array.isArray(feeds)
      ? Object.fromEntries(feeds.map((a, i) => [this.inputNames[i], a]))
      : feeds;
    const ortFeeds: Record<string, BackendTensor> = {};
    for (const v of this.graph.inputs) {
      const a = named[v.name!];
      if (a === undefined)
        throw new Error(`run: missing input '${v.name}' (expected inputs: ${this.inputNames.join(', ')})`);
      if (a instanceof NDArray) {
        if (a.ndim !== v.shape.length || v.shape.some((d, i) => typeof d === 'number' && d !== a.shape[i])) {
          throw new Error(
            `run: input '${v.name}' has shape [${a.shape.join(', ')}], the graph expects [${v.shape.join(', ')}]`,
          );
        }
        if (v.dtype === 'int64')
          ortFeeds[v.name!] = {
            type: 'int64',
            data: BigInt64Array.from(a.data, (x) => BigInt(Math.round(x))),
            dims: [...a.shape],
          };
        else ortFeeds[v.name!] = { type: 'float32', data: a.data, dims: [...a.shape] };
      } else {
        const shape = v.shape.map((d) => (typeof d === 'number' ? d : a.length));
        const data = a instanceof BigInt64Array ? a : BigInt64Array.from(a, (x) => BigInt(x));
        ortFeeds[v.name!] = { type: 'int64', data, dims: shape };
      }
    }
    for (const k of Object.keys(named)) {
      if (!this.inputNames.includes(k))
        throw new Error(`run: unknown input '${k}' (expected inputs: ${this.inputNames.join(', ')})`);
    }
    let outBuffers: Record<string, BackendTensor> | undefined;
    if (opts.outputs) {
      outBuffers = {};
      for (const [n, a] of Object.entries(opts.outputs)) {
        const v = this.graph.outputs.find((o) => o.name === n);
        if (!v) throw new Error(`run: unknown output '${n}' (outputs: ${this.outputNames.join(', ')})`);
        if (
          v.dtype !== 'float32' ||
          a.ndim !== v.shape.length ||
          v.shape.some((d, i) => typeof d === 'number' && d !== a.shape[i])
        ) {
          throw new Error(
            `run: output buffer '${n}' has shape [${a.shape.join(', ')}], the graph's output is ${v.dtype} [${v.shape.join(', ')}]`,
          );
        }
        for (const f of Object.values(named)) {
          if (f instanceof NDArray && f.data.buffer === a.data.buffer)
            throw new Error(`run: output buffer '${n}' shares memory with an input`);
        }
        outBuffers[n] = { type: 'float32', data: a.data, dims: [...a.shape] };
      }
    }
    let out: Awaited<ReturnType<BackendSession['run']>>;
    try {
      out = await this.session.run(ortFeeds, outBuffers);
    } catch (e) {
      throw explain(e as Error, this.origin, 'running');
    }
    return this.outputNames.map((n) => {
      // a preallocated output is returned as the caller's own NDArray (ORT wrote into its memory; the
      // backend's view of that memory must not outlive it)
      if (opts.outputs?.[n]) return opts.outputs[n];
      const t = out[n];
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data, Number);
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
      return new Error(
        `ONNX Runtime rejected op '${node.op}' (node ${nodeName}, called at ${node.caller}) while ${phase}: ${msg}`,
        { cause: e },
      );
    }
  }
  return new Error(`ONNX Runtime failed while ${phase}: ${msg}`, { cause: e });
}

const cache = new Map<string, Promise<Executable>>();

/** Threads a session uses by default (the backend's choice; available cores in Node). */
export function defaultThreads(): number {
  return currentBackend()?.defaultThreads() ?? hostParallelism();
}

/** SHA-256 of the model bytes and options (WebCrypto, in Node and browsers; FNV-1a where it is missing). */
async function cacheKey(bytes: Uint8Array, options: SessionOptions): Promise<string> {
  const opts = new TextEncoder().encode(JSON.stringify(options));
  const all = new Uint8Array(bytes.length + opts.length);
  all.set(bytes);
  all.set(opts, bytes.length);
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    const digest = new Uint8Array(await subtle.digest('SHA-256', all));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  // Insecure browser contexts have no crypto.subtle: two 32-bit FNV-1a hashes with different seeds + length.
  let h1 = 0x811c9dc5,
    h2 = 0x01000193 ^ all.length;
  for (let i = 0; i < all.length; i++) {
    h1 = Math.imul(h1 ^ all[i], 0x01000193);
    h2 = Math.imul(h2 ^ all[i], 0x5bd1e995);
  }
  return `fnv-${(h1 >>> 0).toString(16)}-${(h2 >>> 0).toString(16)}-${all.length}`;
}

/** Compile (or fetch from the cache) an ONNX Runtime session for `graph`. */
export async function compile(graph: Graph, compileOptions: SessionOptions = {}): Promise<Executable> {
  const { optimize = true, remat = 'elementwise', nchwc = true, ...options } = { ...defaults, ...compileOptions };
  if (optimize !== false) graph = optimizeGraph(graph, optimize === true ? {} : optimize).graph;
  if (remat !== false) {
    const r = rematerialize(graph, typeof remat === 'string' ? { policy: remat } : remat);
    if (r.recomputed > 0) {
      graph = r.graph;
      // ORT's own CSE would merge the recomputed copies back into the forward pass
      const off = options.config?.['optimization.disable_specified_optimizers'];
      options.config = {
        ...options.config,
        'optimization.disable_specified_optimizers': off
          ? `${off},CommonSubexpressionElimination`
          : 'CommonSubexpressionElimination',
      };
    }
  }
  const backend = await getBackend();
  // NCHWc kernels are CPU-provider ops: only when every execution provider asked for is the CPU
  const cpuOnly = (options.executionProviders ?? ['cpu']).every((p) => p === 'cpu');
  const nchwcBlock = nchwc && cpuOnly && backend.nchwcBlockSize ? await backend.nchwcBlockSize() : 0;
  const { model, origin } = toOnnxProto(graph, { target: { nchwcBlock } });
  const bytes = onnxProto.onnx.ModelProto.encode(model).finish();
  const key = `${backend.name}:${await cacheKey(bytes, options)}`;
  let hit = cache.get(key);
  if (!hit) {
    hit = (async () => {
      try {
        const session = await backend.createSession(bytes, options);
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
    try {
      await (await p).session.release();
    } catch {
      /* already failed */
    }
  }
}

export type { Node };
