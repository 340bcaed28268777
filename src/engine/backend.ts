/**
 * The session layer under `compile()`: the one seam between the engine and an ONNX Runtime build.
 * A backend turns ONNX model bytes into a session and runs it on plain typed arrays.
 *
 * - Node.js: `backend_node.ts` (onnxruntime-node), loaded by default at the first `compile()` in Node.
 * - Browser: `runtime_web.ts` (onnxruntime-web: wasm, WebGPU when the browser has it); a page calls
 *   `setBackend(await webBackend())` once, before its first `compile()`.
 *
 * Nothing here imports a Node-only module, so the engine bundles for the browser; the Node backend
 * is loaded with a dynamic import that bundlers do not follow.
 *
 * @example
 *   import { setBackend } from './backend.ts';
 *   import { webBackend } from './runtime_web.ts';
 *   setBackend(await webBackend({ wasmPaths: '/ort/' }));
 */

/** Options for one session (what a backend does not support it ignores). */
export interface SessionOptions {
  /** Threads inside one op (default: available cores; onnxruntime-web sets threads globally instead). */
  intraOpNumThreads?: number;
  /** ONNX Runtime graph optimisation level (default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Use ONNX Runtime's memory arena (default true). */
  enableCpuMemArena?: boolean;
  /** Reuse memory patterns between runs of the same shapes (default false in Node: measured, see BENCHMARKS.md). */
  enableMemPattern?: boolean;
  /** Execution providers (default: the backend's, e.g. ['cpu'] in Node, ['wasm'] in the browser). */
  executionProviders?: string[];
  /**
   * ONNX Runtime session config entries (onnxruntime_session_options_config_keys.h), e.g.
   * `{ 'session.intra_op.allow_spinning': '1' }` (the Node backend turns spinning off by default).
   */
  config?: Record<string, string>;
}

/** A tensor handed to a backend session. */
export interface BackendTensor {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}

/** A tensor returned by a backend session. */
export interface BackendOutput {
  data: ArrayLike<number | bigint>;
  dims: readonly number[];
}

/** A loaded model. `run` may be called again before an earlier run settles. */
export interface BackendSession {
  /**
   * Run the model. `outputs` optionally gives float32 buffers to write outputs into (by name; a backend
   * that cannot may ignore them and return its own); the returned data then is that buffer.
   */
  run(feeds: Record<string, BackendTensor>, outputs?: Record<string, BackendTensor>): Promise<Record<string, BackendOutput>>;
  release(): Promise<void>;
}

/** An ONNX Runtime build: creates sessions from ONNX ModelProto bytes. */
export interface RuntimeBackend {
  /** e.g. 'onnxruntime-node', 'onnxruntime-web'. */
  readonly name: string;
  createSession(modelBytes: Uint8Array, options: SessionOptions): Promise<BackendSession>;
  /** Threads a session uses when `intraOpNumThreads` is not given. */
  defaultThreads(): number;
  /**
   * Channel block of the build's CPU NCHWc kernels (com.microsoft.nchwc), or 0 / absent when it has
   * none; compile() then lowers run-time-weight convolutions to them (trace.ts, LowerTarget).
   */
  nchwcBlockSize?(): Promise<number>;
}

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

let current: RuntimeBackend | undefined;
let loadingDefault: Promise<RuntimeBackend> | undefined;

/** Use `backend` for every later `compile()` (sessions already compiled keep theirs). */
export function setBackend(backend: RuntimeBackend): void {
  current = backend;
}

/**
 * The backend `compile()` uses: the one set with `setBackend`, else (in Node.js) onnxruntime-node,
 * loaded on first use. The specifier is a variable so that bundlers do not follow it into the browser
 * bundle (and no top-level await: CommonJS callers of the engine keep working).
 */
export async function getBackend(): Promise<RuntimeBackend> {
  if (current) return current;
  if (!isNode) {
    throw new Error('engine: no ONNX Runtime backend is set; in a browser call setBackend(await webBackend()) (src/engine/runtime_web.ts) before compile()');
  }
  const specifier = './backend_node.ts';
  loadingDefault ??= (import(/* @vite-ignore */ specifier) as Promise<typeof import('./backend_node.ts')>).then((m) => m.nodeBackend);
  const loaded = await loadingDefault;
  return current ?? loaded;
}

/** The backend in use if one is set or loaded already (no loading). */
export function currentBackend(): RuntimeBackend | undefined {
  return current;
}

/** Cores of this machine (Node: os.availableParallelism; browsers: navigator.hardwareConcurrency). */
export function hostParallelism(): number {
  type OsLike = { availableParallelism?: () => number; cpus: () => unknown[] };
  const getBuiltin = (globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined)?.getBuiltinModule;
  const os = isNode && typeof getBuiltin === 'function' ? (getBuiltin('node:os') as OsLike | undefined) : undefined;
  if (os) return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}
