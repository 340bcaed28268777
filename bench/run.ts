/**
 * Benchmark driver: `npm run bench [-- suite ...]` runs the named suites (default: 'engine', 'unet-s',
 * 'mlp-2d'; also 'conv-explore'), prints
 * their tables and writes each into BENCHMARKS.md (machine, date, command, table) between
 * `<!-- bench:<suite>:start -->` and `<!-- bench:<suite>:end -->`, leaving other sections alone.
 *
 * Options: --reps N (timed repetitions, default 10), --threads N (default: all cores, for ours and
 * PyTorch alike), --no-write (print only).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defaultThreads } from '../src/engine/index.ts';
import { convDwExplore } from './conv_dw_explore.ts';
import { engineBench, engineMarkdown } from './engine.ts';
import { LEVERS, leverSuite } from './levers.ts';
import { mlp2dSuite } from './mlp_2d.ts';
import { unetSSuite } from './unet_s.ts';
import { runtimesSuite } from './runtimes.ts';

interface Suite {
  title: string;
  run: (reps: number, threads: number) => Promise<string>;
  /** part of a plain `npm run bench` */
  default: boolean;
  /** repetitions when --reps is not given (default 10) */
  reps?: number;
}

const log = (s: string): void => {
  process.stderr.write(`  ${s}\n`);
};
const suites: Record<string, Suite> = {
  engine: {
    title: 'Engine micro-benchmark (bench/engine.ts, PyTorch twin bench/engine_torch.py)',
    run: async (reps, threads) => engineMarkdown(await engineBench({ reps, threads, log })),
    default: true,
  },
  'conv-explore': {
    title: 'Conv gradient formulations explored as raw ONNX (bench/conv_dw_explore.ts)',
    run: (reps, threads) => convDwExplore(reps, 2, threads, log),
    default: false,
  },
  'unet-s': {
    title: 'unet-s: training step and sampling forward, ours vs PyTorch (bench/unet_s.ts, twin bench/unet_s_torch.py)',
    run: (reps, threads) => unetSSuite(reps, threads, log),
    default: true,
    reps: 7,
  },
  'mlp-2d': {
    title: 'mlp-2d: training step and 20-step sampling, ours vs PyTorch (bench/mlp_2d.ts, twin bench/mlp_2d_torch.py)',
    run: (reps, threads) => mlp2dSuite(reps, threads, log),
    default: true,
  },
  runtimes: {
    title:
      'The two ONNX Runtime paths of an install: onnxruntime-node vs onnxruntime-web wasm in Node.js (bench/runtimes.ts)',
    run: (reps) => runtimesSuite(reps, log),
    default: false,
    reps: 3,
  },
  ...Object.fromEntries(
    Object.keys(LEVERS).map((k) => [
      `lever-${k}`,
      {
        title: `Lever: ${k} (bench/levers.ts), before/after`,
        run: (reps: number, threads: number) => leverSuite(k, reps, threads, log),
        default: false,
        reps: 5,
      } satisfies Suite,
    ]),
  ),
};

function machine(threads: number): string {
  const cpus = os.cpus();
  const req = createRequire(import.meta.url);
  let ortVersion = '?';
  try {
    ortVersion = (req('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    /* not resolvable */
  }
  return (
    `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
    `${os.type()} ${os.release()}; Node ${process.version}; onnxruntime-node ${ortVersion}; ${threads} thread(s)`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const optionValue = (flag: string, dflt: number): number => {
    const i = args.indexOf(flag);
    const v = i >= 0 ? Number(args[i + 1]) : dflt;
    if (!Number.isInteger(v) || v < 1) throw new Error(`bench: ${flag} needs a positive integer, got '${args[i + 1]}'`);
    return v;
  };
  const repsGiven = args.includes('--reps');
  const reps = optionValue('--reps', 10);
  const threads = optionValue('--threads', defaultThreads());
  const write = !args.includes('--no-write');
  const shown = args.filter((a) => a !== '--no-write');
  const names = args.filter((a, i) => !a.startsWith('--') && !['--reps', '--threads'].includes(args[i - 1]));
  const chosen = names.length ? names : Object.keys(suites).filter((k) => suites[k].default);
  for (const n of chosen)
    if (!suites[n]) throw new Error(`bench: unknown suite '${n}' (suites: ${Object.keys(suites).join(', ')})`);
  const file = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
  for (const n of chosen) {
    const t0 = performance.now();
    const load0 = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    process.stderr.write(`suite ${n}\n`);
    const table = await suites[n].run(repsGiven ? reps : (suites[n].reps ?? reps), threads);
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    // a run with a non-default thread count gets its own section
    const key = threads === defaultThreads() ? n : `${n}-${threads}-threads`;
    const section = [
      `<!-- bench:${key}:start -->`,
      `## ${suites[n].title}${key === n ? '' : `, ${threads} thread(s)`}`,
      '',
      `- machine: ${machine(threads)}`,
      `- date: ${new Date().toISOString()}; load average before / after: ${load0} / ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (other work on the box slows both columns)`,
      `- command: \`npm run bench${shown.length ? ` -- ${shown.join(' ')}` : ''}\` (this suite: ${secs} s)`,
      '',
      table,
      `<!-- bench:${key}:end -->`,
    ].join('\n');
    console.log(section.split('\n').slice(1, -1).join('\n') + '\n');
    if (write) {
      let md = existsSync(file)
        ? readFileSync(file, 'utf8')
        : '# Benchmarks\n\nWritten by `npm run bench` (bench/run.ts); each section is replaced when its suite runs again.\n';
      const re = new RegExp(`<!-- bench:${key}:start -->[\\s\\S]*?<!-- bench:${key}:end -->`);
      md = re.test(md) ? md.replace(re, section) : `${md.trimEnd()}\n\n${section}\n`;
      writeFileSync(file, md);
    }
  }
}

await main();
