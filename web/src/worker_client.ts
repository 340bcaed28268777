/**
 * The page's handle on the model worker (web/src/model_worker.ts): typed requests that resolve with
 * the worker's result, progress callbacks, and the worker's events (live training ticks and samples).
 */
import type { Api, Op, Reply, SampleRun, TrainTick } from './protocol.ts';

type Events = { tick: TrainTick; live: SampleRun };

export class ModelWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (v: unknown) => void }
  >();
  private readonly listeners: { [K in keyof Events]: ((v: Events[K]) => void)[] } = { tick: [], live: [] };
  /** Requests sent and not yet answered (the e2e test reads it). */
  inFlight = 0;

  constructor() {
    this.worker = new Worker(new URL('./model_worker.ts', import.meta.url), {
      type: 'module',
      name: 'diffuse-model-worker',
    });
    this.worker.onmessage = (ev: MessageEvent<Reply>) => {
      const t0 = performance.now();
      try {
        this.dispatch(ev.data);
      } finally {
        const ms = performance.now() - t0;
        if (ms > 30) this.slow.push({ what: ev.data.kind === 'event' ? ev.data.name : ev.data.kind, ms, at: t0 });
      }
    };
    this.worker.onerror = (ev) => {
      const err = new Error(`model worker failed: ${ev.message || 'could not start (see the console)'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  /** Handlers of worker messages that took over 30 ms on the main thread (the e2e test reports them). */
  readonly slow: { what: string; ms: number; at: number }[] = [];

  private dispatch(r: Reply): void {
    if (r.kind === 'event') {
      for (const fn of this.listeners[r.name]) (fn as (v: unknown) => void)(r.value);
      return;
    }
    const p = this.pending.get(r.id);
    if (!p) return;
    if (r.kind === 'progress') {
      p.progress?.(r.value);
      return;
    }
    this.pending.delete(r.id);
    this.inFlight--;
    if (r.kind === 'result') p.resolve(r.value);
    else p.reject(new Error(r.message));
  }

  call<K extends Op>(op: K, args: Api[K][0], progress?: (v: unknown) => void): Promise<Api[K][1]> {
    const id = this.nextId++;
    this.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      this.worker.postMessage({ id, op, args });
    });
  }

  on<K extends keyof Events>(name: K, fn: (v: Events[K]) => void): void {
    this.listeners[name].push(fn);
  }
}
