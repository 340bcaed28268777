/**
 * Before/after of a change whose old code is gone: one workload of bench/worker.ts in this working
 * tree against the same workload in a git revision (checked out as a detached worktree under the
 * system temp folder, sharing this checkout's node_modules), single repetitions alternating after a
 * warm-up so both see the same machine load; peak RSS of each process.
 *
 *   npx tsx bench/ab.ts --rev <commit> [--workload unet-train] [--threads 1] [--reps 9] [--warmup 2]
 *
 * Prints a markdown table (speed of the working tree relative to the revision).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, interleave, oursWorker } from './workers.ts';

const args = process.argv.slice(2);
const opt = (f: string, d?: string): string | undefined => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : d;
};
const rev = opt('--rev');
if (!rev) throw new Error('bench/ab.ts: give --rev <commit> (the "before" revision)');
const workload = opt('--workload', 'unet-train')!;
const threads = Number(opt('--threads', '1'));
const reps = Number(opt('--reps', '9'));
const warmup = Number(opt('--warmup', '2'));

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const sha = execFileSync('git', ['rev-parse', '--short', rev], { cwd: root, encoding: 'utf8' }).trim();
const dir = mkdtempSync(path.join(tmpdir(), `diffuse-ab-${sha}-`));
execFileSync('git', ['worktree', 'add', '--detach', '-f', dir, sha], { cwd: root, stdio: 'ignore' });
try {
  if (!existsSync(path.join(dir, 'node_modules')))
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const workers = [
    await oursWorker(`revision ${sha} (before)`, workload, threads, {}, dir),
    await oursWorker('working tree (after)', workload, threads),
  ];
  const rows = await interleave(workers, reps, warmup, (s) => console.error(s));
  const base = rows[0];
  console.log(
    `\n${workload}, ${threads} thread(s), ${reps} alternating repetitions after ${warmup} warm-up; load average ${(
      await import('node:os')
    )
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(
    '| variant | wall ms, median (min–max) | CPU ms, median (min–max) | peak RSS MiB | speed vs before (wall / CPU) |',
  );
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const cpu = r.cpu && base.cpu ? `${(base.cpu.median / r.cpu.median).toFixed(2)}x` : '–';
    console.log(
      `| ${r.label} | ${fmt(r.ms)} | ${r.cpu ? fmt(r.cpu, 1, 0) : '–'} | ${r.maxRssMb.toFixed(0)} | ${(base.ms.median / r.ms.median).toFixed(2)}x / ${cpu} |`,
    );
  }
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' });
}
