/**
 * Benchmark workers: each workload runs in its own child process (so its peak RSS is its own),
 * speaking a line protocol on stdin/stdout:
 *
 *   child -> {"ready": true, ...info}        once, after setup (model built, graph compiled)
 *   parent -> "run <n>"                       child runs n timed repetitions
 *   child -> {"ms": [t1, ..., tn], "cpu_ms": [c1, ..., cn]}   wall and process CPU time (all threads) per repetition
 *   parent -> "rss"                           child reports its peak resident set size (VmHWM)
 *   child -> {"max_rss_mb": x}
 *   parent closes stdin                       child exits
 *
 * Our workers are `bench/worker.ts` (Node); the PyTorch twins are Python scripts with `--serve`.
 * `interleave` alternates single repetitions of several workers so that all see the same load of
 * the (shared) machine.
 *
 * @example
 *   const w = await Worker.start('ours', process.execPath, ['--import', 'tsx', 'bench/worker.ts', 'unet-sample']);
 *   const rows = await interleave([w], 5, 1);
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';

export interface Stats {
  median: number;
  min: number;
  max: number;
  reps: number;
}

export function stats(ts: number[]): Stats {
  const s = [...ts].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], reps: s.length };
}

/** One child process running one workload. */
export class Worker {
  private lines: string[] = [];
  private waiting: ((s: string | null) => void)[] = [];
  private closed = false;
  stderr = '';
  info: Record<string, unknown> = {};
  private constructor(
    readonly label: string,
    private proc: ChildProcessWithoutNullStreams,
  ) {}

  /** Start a worker and wait for its "ready" line; throws with the child's stderr when it fails. */
  static async start(label: string, cmd: string, args: string[], env: Record<string, string> = {}): Promise<Worker> {
    const proc = spawn(cmd, args, { env: { ...process.env, ...env } });
    const w = new Worker(label, proc);
    proc.stderr.on('data', (d) => {
      w.stderr += String(d);
    });
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (!l.startsWith('{')) return; // stray prints
      const f = w.waiting.shift();
      if (f) f(l);
      else w.lines.push(l);
    });
    proc.on('close', () => {
      w.closed = true;
      for (const f of w.waiting.splice(0)) f(null);
    });
    proc.on('error', (e) => {
      w.stderr += `\nspawn error: ${e.message}`;
    });
    const first = await w.next();
    if (first === null)
      throw new Error(
        `worker ${label} (${cmd} ${args.join(' ')}) exited before it was ready:\n${w.stderr.trim().split('\n').slice(-8).join('\n')}`,
      );
    w.info = JSON.parse(first) as Record<string, unknown>;
    return w;
  }

  private next(): Promise<string | null> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(null);
    return new Promise((res) => this.waiting.push(res));
  }

  private async ask(cmd: string): Promise<Record<string, unknown>> {
    this.proc.stdin.write(`${cmd}\n`);
    const l = await this.next();
    if (l === null)
      throw new Error(`worker ${this.label} died on '${cmd}':\n${this.stderr.trim().split('\n').slice(-8).join('\n')}`);
    const r = JSON.parse(l) as Record<string, unknown>;
    if (typeof r.error === 'string') throw new Error(`worker ${this.label}: ${r.error}`);
    return r;
  }

  /** n timed repetitions: wall and CPU time (all threads of the child) in ms. */
  async run(n: number): Promise<{ ms: number[]; cpu: number[] }> {
    if (n === 0) return { ms: [], cpu: [] };
    const r = await this.ask(`run ${n}`);
    return { ms: r.ms as number[], cpu: (r.cpu_ms as number[] | undefined) ?? [] };
  }

  /** Peak resident set size of the child so far, MiB. */
  async maxRssMb(): Promise<number> {
    return (await this.ask('rss')).max_rss_mb as number;
  }

  close(): void {
    if (!this.closed) this.proc.stdin.end();
  }
}

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

/**
 * Start our worker for `workload` with a variant (see bench/worker.ts); `root` runs the worker of
 * another checkout of the project instead (bench/ab.ts: the same workload at an older revision).
 */
export function oursWorker(
  label: string,
  workload: string,
  threads: number,
  variant: Record<string, unknown> = {},
  root?: string,
): Promise<Worker> {
  const script = root ? `${root}/bench/worker.ts` : here('./worker.ts');
  return Worker.start(label, process.execPath, [
    '--import',
    'tsx',
    script,
    workload,
    '--threads',
    String(threads),
    '--variant',
    JSON.stringify(variant),
  ]);
}

/**
 * Environment that holds a PyTorch twin to `threads` threads everywhere. `torch.set_num_threads` covers
 * ATen's OpenMP pool only: Debian's torch calls OpenBLAS (openblas-pthread) for matmuls, which starts
 * one thread per core unless told otherwise — measured: a "1-thread" 1024^3 matmul took 16.7 ms wall
 * and 33.4 ms CPU (two cores) without this, 29.9 / 29.9 ms with it.
 */
export function torchThreadEnv(threads: number): Record<string, string> {
  const n = String(threads);
  return { OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n };
}

/** Start a PyTorch twin with `threads` threads (see torchThreadEnv), or return why it cannot run. */
export async function torchWorker(
  label: string,
  script: string,
  args: string[],
  threads: number,
): Promise<Worker | string> {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  try {
    return await Worker.start(label, PYTHON, [here(script), ...args], torchThreadEnv(threads));
  } catch (e) {
    const msg = (e as Error).message;
    if (/No module named 'torch'/.test(msg)) return `torch is not installed for ${PYTHON}`;
    return msg.split('\n').slice(-1)[0];
  }
}

export interface Measured {
  label: string;
  /** Wall time per repetition. */
  ms: Stats;
  /** CPU time per repetition (user + system, all threads; includes ORT's / OpenMP's spin-waiting). */
  cpu?: Stats;
  maxRssMb: number;
  info: Record<string, unknown>;
}

/**
 * Warm every worker up, then run `reps` rounds of one timed repetition of each (same load for
 * all), then read each worker's peak RSS. Closes the workers.
 */
export async function interleave(
  workers: Worker[],
  reps: number,
  warmup: number,
  log: (s: string) => void = () => {},
): Promise<Measured[]> {
  try {
    for (const w of workers) await w.run(warmup);
    const times: number[][] = workers.map(() => []),
      cpus: number[][] = workers.map(() => []);
    for (let i = 0; i < reps; i++) {
      for (let k = 0; k < workers.length; k++) {
        const r = await workers[k].run(1);
        times[k].push(...r.ms);
        cpus[k].push(...r.cpu);
      }
      log(
        `  round ${i + 1}/${reps}: ${workers.map((w, k) => `${w.label} ${times[k][i].toFixed(1)} ms (cpu ${cpus[k][i]?.toFixed(0)})`).join(', ')}`,
      );
    }
    const out: Measured[] = [];
    for (let k = 0; k < workers.length; k++) {
      out.push({
        label: workers[k].label,
        ms: stats(times[k]),
        cpu: cpus[k].length === reps ? stats(cpus[k]) : undefined,
        maxRssMb: await workers[k].maxRssMb(),
        info: workers[k].info,
      });
    }
    return out;
  } finally {
    for (const w of workers) w.close();
  }
}

/** "median (min–max)" with one decimal. */
export function fmt(s: Stats, scale = 1, digits = 1): string {
  return `${(s.median * scale).toFixed(digits)} (${(s.min * scale).toFixed(digits)}–${(s.max * scale).toFixed(digits)})`;
}

/** Throughput stats (items per second) from time stats in ms: the fastest time gives the highest rate. */
export function rate(s: Stats, items: number): Stats {
  return { median: (items * 1000) / s.median, min: (items * 1000) / s.max, max: (items * 1000) / s.min, reps: s.reps };
}
