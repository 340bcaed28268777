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
  /** Threads that run independent ops at the same time (default 1; only with `executionMode: 'parallel'`). */
  interOpNumThreads?: number;
  /** 'sequential' (default) runs one op at a time; 'parallel' runs independent branches of the graph at once. */
  executionMode?: 'sequential' | 'parallel';
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
  run(
    feeds: Record<string, BackendTensor>,
    outputs?: Record<string, BackendTensor>,
  ): Promise<Record<string, BackendOutput>>;
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
 * loaded on first use — or, when onnxruntime-node is not installed or its native binding does not
 * load (it is an optional dependency: its install step can fail offline), onnxruntime-web's wasm
 * build, which also runs in Node.js (slower; a one-line warning says so and how to fix it).
 * The specifiers are variables so that bundlers do not follow them into the browser bundle (and no
 * top-level await: CommonJS callers of the engine keep working).
 */
export async function getBackend(): Promise<RuntimeBackend> {
  if (current) return current;
  if (!isNode) {
    throw new Error(
      'engine: no ONNX Runtime backend is set; in a browser call setBackend(await webBackend()) (diffuse/web) before compile()',
    );
  }
  loadingDefault ??= loadNodeDefault();
  const loaded = await loadingDefault;
  return current ?? loaded;
}

/** This module's own extension: '.ts' from the sources, '.js' from the built package. */
const ownExtension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

async function loadNodeDefault(): Promise<RuntimeBackend> {
  let nodeError: Error;
  // DIFFUSE_BACKEND=onnxruntime-web runs Node.js on the wasm build (to measure or test that path).
  const forced = typeof process === 'object' ? process.env?.DIFFUSE_BACKEND : undefined;
  if (forced === 'onnxruntime-web') {
    const specifier = `./runtime_web${ownExtension}`;
    return ((await import(/* @vite-ignore */ specifier)) as typeof import('./runtime_web.ts')).webBackend();
  }
  try {
    const specifier = `./backend_node${ownExtension}`;
    return ((await import(/* @vite-ignore */ specifier)) as typeof import('./backend_node.ts')).nodeBackend;
  } catch (e) {
    nodeError = e as Error;
  }
  let web: typeof import('./runtime_web.ts');
  try {
    const specifier = `./runtime_web${ownExtension}`;
    web = (await import(/* @vite-ignore */ specifier)) as typeof import('./runtime_web.ts');
  } catch {
    throw new Error(
      `diffuse: no ONNX Runtime could be loaded: onnxruntime-node failed (${firstLine(nodeError)}) and onnxruntime-web is not installed; run \`npm i onnxruntime-node\` (ONNXRUNTIME_NODE_INSTALL=skip when offline) or \`npm i onnxruntime-web\``,
    );
  }
  warnOnce(
    `diffuse: onnxruntime-node is not available (${firstLine(nodeError)}); running on onnxruntime-web's wasm build, several times slower. To fix: ONNXRUNTIME_NODE_INSTALL=skip npm i onnxruntime-node`,
  );
  return web.webBackend();
}

function firstLine(e: Error): string {
  return String(e?.message ?? e).split('\n')[0];
}

function warnOnce(msg: string): void {
  if (typeof process === 'object' && process.env?.DIFFUSE_QUIET_BACKEND === '1') return;
  console.warn(msg);
}

/** The backend in use if one is set or loaded already (no loading). */
export function currentBackend(): RuntimeBackend | undefined {
  return current;
}

/** Cores of this machine (Node: os.availableParallelism; browsers: navigator.hardwareConcurrency). */
export function hostParallelism(): number {
  type OsLike = { availableParallelism?: () => number; cpus: () => unknown[] };
  const getBuiltin = (globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined)
    ?.getBuiltinModule;
  const os = isNode && typeof getBuiltin === 'function' ? (getBuiltin('node:os') as OsLike | undefined) : undefined;
  if (os) return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}
