/**
 * The unet-s suite (issue 6): the training step at batch 64 (forward + backward + AdamW) and the
 * sampling forward at batch 256, in images/s, with the peak RSS of each workload — ours (bench/worker.ts)
 * beside the PyTorch twin (bench/unet_s_torch.py --impl standalone, diffusers' UNet2DModel re-written
 * with the same parameter names; `torch.set_num_threads` = ours). Each workload runs in its own pair of
 * child processes (so each peak RSS belongs to one workload), and the two sides alternate single
 * repetitions (same machine load for both).
 *
 * Run: `npm run bench -- unet-s` (also `--reps N`, `--threads N`).
 */
import { fmt, interleave, oursWorker, rate, torchWorker, type Measured, type Worker } from './workers.ts';

/** One workload of a paired suite. */
export interface PairSpec {
  /** Row name. */
  name: string;
  /** Our worker's workload (bench/worker.ts). */
  workload: string;
  /** Items per repetition (images, points) for the throughput column, and their unit. */
  items: number;
  unit: string;
  /** The twin's script and arguments (threads are appended). */
  torch: { script: string; args: (threads: number) => string[] };
  warmup?: number;
}

export interface PairRow {
  spec: PairSpec;
  ours: Measured;
  torch?: Measured;
  torchNote?: string;
}

/** Run each workload: ours and the twin in child processes, interleaved. */
export async function runPairs(
  specs: PairSpec[],
  reps: number,
  threads: number,
  log: (s: string) => void,
): Promise<PairRow[]> {
  const rows: PairRow[] = [];
  for (const spec of specs) {
    log(`${spec.name}: starting workers`);
    const ours = await oursWorker('ours', spec.workload, threads);
    const twin = await torchWorker('PyTorch', spec.torch.script, spec.torch.args(threads), threads);
    const workers: Worker[] = typeof twin === 'string' ? [ours] : [ours, twin];
    const [o, t] = await interleave(workers, reps, spec.warmup ?? 1, log);
    rows.push({ spec, ours: o, torch: t, torchNote: typeof twin === 'string' ? twin : undefined });
  }
  return rows;
}

/** Markdown table of paired rows. */
export function pairMarkdown(rows: PairRow[]): string {
  const lines = [
    '| workload | ours ms, median (min–max) | ours items/s | ours CPU ms | ours peak RSS MiB | PyTorch ms, median (min–max) | PyTorch items/s | PyTorch CPU ms | PyTorch peak RSS MiB | ours / PyTorch speed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes = new Set<string>();
  const cpu = (m: Measured): string => (m.cpu ? m.cpu.median.toFixed(0) : '–');
  for (const r of rows) {
    const u = r.spec.unit;
    const ours = `${fmt(r.ours.ms)} | ${rate(r.ours.ms, r.spec.items).median.toFixed(1)} ${u}/s | ${cpu(r.ours)} | ${r.ours.maxRssMb.toFixed(0)}`;
    const torch = r.torch
      ? `${fmt(r.torch.ms)} | ${rate(r.torch.ms, r.spec.items).median.toFixed(1)} ${u}/s | ${cpu(r.torch)} | ${r.torch.maxRssMb.toFixed(0)} | ${(r.torch.ms.median / r.ours.ms.median).toFixed(2)}x`
      : 'skipped | – | – | – | –';
    lines.push(`| ${r.spec.name} | ${ours} | ${torch} |`);
    if (r.torchNote) notes.add(`PyTorch column skipped: ${r.torchNote}.`);
    else if (r.torch)
      notes.add(
        `PyTorch ${String(r.torch.info.torch_version)} (${String(r.torch.info.threads)} threads${r.torch.info.impl ? `, ${String(r.torch.info.impl)} twin` : ''}).`,
      );
  }
  lines.push(
    '',
    ...notes,
    "Each workload runs in its own child process per side (peak RSS = that process's maxrss, runtime and all); " +
      'ours and PyTorch alternate single repetitions after a warm-up, so both see the same machine load. Speed ratio = PyTorch median wall time / ours. ' +
      'CPU ms = median user + system time of the process per repetition, all threads (less sensitive to load than wall time, but it counts spin-waiting threads).',
  );
  return lines.join('\n');
}

export const UNET_S: PairSpec[] = [
  {
    name: 'unet-s train step, batch 64 (fwd + bwd + AdamW)',
    workload: 'unet-train',
    items: 64,
    unit: 'img',
    torch: { script: './unet_s_torch.py', args: (th) => [String(th), '--impl', 'standalone', '--serve', 'train'] },
  },
  {
    name: 'unet-s sampling forward, batch 256',
    workload: 'unet-sample',
    items: 256,
    unit: 'img',
    torch: { script: './unet_s_torch.py', args: (th) => [String(th), '--impl', 'standalone', '--serve', 'sample'] },
  },
];

/** The unet-s suite as markdown. */
export async function unetSSuite(reps: number, threads: number, log: (s: string) => void): Promise<string> {
  return pairMarkdown(await runPairs(UNET_S, reps, threads, log));
}
