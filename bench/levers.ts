/**
 * Lever measurements (issue 6): one workload of bench/worker.ts under several variants (session
 * options, graph passes, op formulations, ...), each in its own child process (own peak RSS), with
 * single repetitions alternating between the variants so that all see the same machine load. The
 * first variant is the baseline ("before"); every other row is an "after".
 *
 * Run: `npm run bench -- lever-<name>` (see LEVERS), e.g. `npm run bench -- lever-mem --reps 5`.
 */
import { fmt, interleave, oursWorker, rate } from './workers.ts';
import type { Variant } from './worker.ts';

export interface LeverSpec {
  title: string;
  workload: 'unet-train' | 'unet-sample' | 'mlp-train' | 'mlp-sample';
  items: number;
  unit: string;
  variants: { name: string; variant: Variant }[];
  warmup?: number;
  reps?: number;
}

const UNET_TRAIN = { workload: 'unet-train', items: 64, unit: 'img' } as const;
const UNET_SAMPLE = { workload: 'unet-sample', items: 256, unit: 'img' } as const;

export const LEVERS: Record<string, LeverSpec[]> = {
  /** ONNX Runtime memory options: arena and memory patterns. */
  mem: [
    {
      title: 'unet-s train step b64: ORT memory arena / memory patterns', ...UNET_TRAIN, variants: [
        { name: 'arena on, mem pattern on (ORT default; before)', variant: { session: { enableCpuMemArena: true, enableMemPattern: true } } },
        { name: 'arena on, mem pattern off', variant: { session: { enableCpuMemArena: true, enableMemPattern: false } } },
        { name: 'arena off, mem pattern on', variant: { session: { enableCpuMemArena: false, enableMemPattern: true } } },
        { name: 'arena off, mem pattern off', variant: { session: { enableCpuMemArena: false, enableMemPattern: false } } },
      ],
    },
    {
      title: 'unet-s sampling forward b256: ORT memory arena / memory patterns', ...UNET_SAMPLE, variants: [
        { name: 'arena on, mem pattern on (ORT default; before)', variant: { session: { enableCpuMemArena: true, enableMemPattern: true } } },
        { name: 'arena on, mem pattern off', variant: { session: { enableCpuMemArena: true, enableMemPattern: false } } },
        { name: 'arena off, mem pattern off', variant: { session: { enableCpuMemArena: false, enableMemPattern: false } } },
      ],
    },
  ],
};

/** Run one lever group; markdown with one table per spec. */
export async function leverSuite(name: string, reps: number, threads: number, log: (s: string) => void): Promise<string> {
  const specs = LEVERS[name];
  if (!specs) throw new Error(`bench: unknown lever '${name}' (levers: ${Object.keys(LEVERS).join(', ')})`);
  const out: string[] = [];
  for (const spec of specs) {
    log(spec.title);
    const workers = [];
    for (const v of spec.variants) workers.push(await oursWorker(v.name, spec.workload, threads, v.variant as Record<string, unknown>));
    const ms = await interleave(workers, spec.reps ?? reps, spec.warmup ?? 1, log);
    const base = ms[0];
    out.push(`**${spec.title}**`, '',
      `| variant | wall ms, median (min–max) | ${spec.unit}/s | CPU ms, median (min–max) | peak RSS MiB | speed vs first row (wall / CPU) | setup ms |`, '|---|---|---|---|---|---|---|');
    for (const m of ms) {
      const cpu = m.cpu && base.cpu ? `${(base.cpu.median / m.cpu.median).toFixed(2)}x` : '–';
      out.push(`| ${m.label} | ${fmt(m.ms)} | ${rate(m.ms, spec.items).median.toFixed(1)} | ${m.cpu ? fmt(m.cpu, 1, 0) : '–'} | ${m.maxRssMb.toFixed(0)} | ${(base.ms.median / m.ms.median).toFixed(2)}x / ${cpu} | ${String(m.info.setup_ms)} |`);
    }
    out.push('');
  }
  out.push('Variants run in separate child processes (peak RSS is each process\'s own) and alternate single repetitions after a warm-up (same machine load for all). ' +
    'CPU ms = user + system time of the process per repetition, all threads (counts spin-waiting; steadier than wall time on the loaded box).');
  return out.join('\n');
}
