/**
 * The browser session backend: onnxruntime-web (WebAssembly; WebGPU when the browser has it).
 * The same ONNX graphs as in Node run here: only the session layer changes (see backend.ts).
 *
 * The wasm binaries are fetched from `wasmPaths` (the playground serves them itself: no CDN).
 * Runs are queued (one at a time across all sessions of this page): onnxruntime-web refuses a run of
 * a session while another is in flight, and its wasm instance computes one run at a time anyway.
 *
 * @example
 *   import { setBackend } from './backend.ts';
 *   setBackend(await webBackend({ wasmPaths: '/ort/', preferWebGpu: true }));
 *   const f = await compile(graph);   // now an onnxruntime-web session
 */
import * as ort from 'onnxruntime-web';
import type { BackendOutput, BackendSession, BackendTensor, RuntimeBackend, SessionOptions } from './backend.ts';

export interface WebBackendOptions {
  /** URL prefix (ending in '/') where ort-wasm-simd-threaded.jsep.{mjs,wasm} are served. */
  wasmPaths?: string;
  /** wasm threads (needs a cross-origin-isolated page; default: onnxruntime-web's choice). */
  numThreads?: number;
  /** Use WebGPU when `navigator.gpu` gives an adapter (default false: wasm only). */
  preferWebGpu?: boolean;
  /**
   * Which graphs go to WebGPU when it is on (default: models of at least 1 MiB, i.e. ones with embedded
   * weights such as a UNet; a small training graph of many tiny ops stays on wasm, where it does not
   * pay a GPU dispatch and read-back per op and per run).
   */
  useWebGpuFor?: (modelBytes: Uint8Array) => boolean;
}

/** The default `useWebGpuFor`: graphs of at least 1 MiB. */
export const largeGraphs = (modelBytes: Uint8Array): boolean => modelBytes.byteLength >= 1 << 20;

let queue: Promise<unknown> = Promise.resolve();

class WebSession implements BackendSession {
  constructor(private readonly session: ort.InferenceSession) {}

  run(feeds: Record<string, BackendTensor>): Promise<Record<string, BackendOutput>> {
    const go = async () => {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, [...t.dims]);
      const out = await this.session.run(ortFeeds);
      const result: Record<string, BackendOutput> = {};
      for (const [name, t] of Object.entries(out))
        result[name] = { data: t.data as ArrayLike<number | bigint>, dims: t.dims };
      return result;
    };
    const next = queue.then(go, go);
    queue = next.catch(() => undefined);
    return next;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Does this browser give a WebGPU adapter? */
export async function hasWebGpu(): Promise<boolean> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * onnxruntime-web as a RuntimeBackend. Execution providers of a graph: ['webgpu', 'wasm'] when
 * `preferWebGpu`, an adapter exists and `useWebGpuFor(graph)` (ops WebGPU lacks run on wasm; a graph
 * whose WebGPU session cannot be created at all is retried on wasm alone), else ['wasm'].
 * ONNX Runtime's own log is limited to errors (its warnings would land in the console as errors).
 */
export async function webBackend(
  options: WebBackendOptions = {},
): Promise<RuntimeBackend & { executionProviders: string[]; webGpuAdapter?: boolean }> {
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) {
    if (!(Number.isInteger(options.numThreads) && options.numThreads >= 1))
      throw new Error(`webBackend: numThreads must be a positive integer, got ${options.numThreads}`);
    ort.env.wasm.numThreads = options.numThreads;
  }
  const webGpuAdapter = options.preferWebGpu ? await hasWebGpu() : undefined;
  const executionProviders = webGpuAdapter ? ['webgpu', 'wasm'] : ['wasm'];
  const useWebGpuFor = options.useWebGpuFor ?? largeGraphs;
  ort.env.logLevel = 'error';
  return {
    name: `onnxruntime-web:${executionProviders.join('+')}`,
    executionProviders,
    webGpuAdapter,
    defaultThreads: () => ort.env.wasm.numThreads ?? 1,
    async createSession(bytes: Uint8Array, opts: SessionOptions): Promise<BackendSession> {
      const eps = opts.executionProviders ?? (webGpuAdapter && useWebGpuFor(bytes) ? executionProviders : ['wasm']);
      const create = (providers: string[]) =>
        ort.InferenceSession.create(bytes, {
          logSeverityLevel: 3,
          graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
          enableCpuMemArena: opts.enableCpuMemArena ?? true,
          enableMemPattern: opts.enableMemPattern ?? true,
          executionProviders: providers,
        });
      try {
        return new WebSession(await create(eps));
      } catch (e) {
        if (!eps.includes('webgpu')) throw e;
        // A graph WebGPU cannot take at all still runs on wasm.
        console.warn(`onnxruntime-web: WebGPU session failed (${(e as Error).message}); using wasm for this graph`);
        return new WebSession(await create(['wasm']));
      }
    },
  };
}
