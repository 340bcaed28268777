/**
 * Markdown tables from bench/toy/sweep.ts results: one row per (variant, sampler), one column per data
 * set, each cell the median MMD ratio over seeds (with the seed count when > 1), plus the median training
 * seconds and the load average range of the runs.
 *
 *   npx tsx bench/toy/summarize.ts bench/toy/results/objective.jsonl [more.jsonl ...] [--json docs/toy/recipe.json]
 *
 * --json also writes every row of the given files into one JSON file (rows keep their source file name).
 */
import fs from 'node:fs';

interface Row {
  variant: string;
  data: string;
  seed: number;
  sampler: string;
  ratio: number;
  trainSeconds: number;
  steps: number;
  load: string;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const all: Record<string, unknown>[] = [];
for (const file of args) {
  const rows: Row[] = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  all.push(...rows.map((r) => ({ file, ...r })));
  const datas = [...new Set(rows.map((r) => r.data))];
  const keys = [...new Set(rows.map((r) => `${r.variant}\t${r.sampler}`))];
  console.log(`\n${file}\n`);
  console.log(`| variant | steps | sampler | ${datas.join(' | ')} | train s (median) | load |`);
  console.log(`|---|---|---|${datas.map(() => '---').join('|')}|---|---|`);
  for (const k of keys) {
    const [variant, sampler] = k.split('\t');
    const sel = rows.filter((r) => r.variant === variant && r.sampler === sampler);
    const cells = datas.map((d) => {
      const v = sel.filter((r) => r.data === d).map((r) => r.ratio);
      return v.length === 0 ? '' : `${median(v).toFixed(2)}${v.length > 1 ? ` (n=${v.length})` : ''}`;
    });
    const loads = sel.map((r) => Number(r.load));
    console.log(
      `| ${variant} | ${sel[0].steps} | ${sampler} | ${cells.join(' | ')} | ${median(sel.map((r) => r.trainSeconds)).toFixed(1)} | ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} |`,
    );
  }
}
if (jsonOut)
  fs.writeFileSync(
    jsonOut,
    `${JSON.stringify({ command: `npx tsx bench/toy/summarize.ts ${args.join(' ')} --json ${jsonOut}`, rows: all }, null, 1)}\n`,
  );
