// A node:test reporter that prints each test file's wall time at the end of a run, slowest first
// (the tiers' time budget is watched with it: the fast tier should stay under ~4 minutes on 2 cores).
import { relative } from 'node:path';

export default async function* fileTimings(source) {
  const perFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      const f = relative(process.cwd(), event.data.file);
      perFile.set(f, (perFile.get(f) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, ms]) => s + ms, 0);
  yield `\n# per-file time (sum of top-level tests; files run 2 at a time), ${rows.length} files, ${(total / 1000).toFixed(1)} s in all\n`;
  for (const [f, ms] of rows) yield `# ${(ms / 1000).toFixed(2).padStart(8)} s  ${f}\n`;
}
