// Runs a test tier with Node's built-in test runner (through tsx; Node 20 has no globs):
//   npm test               the fast tier: test/**/*.test.ts outside test/e2e/ (unit + integration)
//   npm run test:e2e       the slow tier: test/e2e/** (browser, CLI subprocesses, kill/resume, fuzz, npm pack)
// Per-file wall times are printed after the run (slowest first). Extra arguments are passed on,
// e.g. `npm test -- --test-name-pattern=conv`.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const tierAt = args.indexOf('--tier');
const tier = tierAt >= 0 ? args.splice(tierAt, 2)[1] : 'fast';
if (!['fast', 'e2e'].includes(tier)) {
  console.error(`scripts/test.mjs: --tier ${tier}: expected fast or e2e`);
  process.exit(2);
}

function find(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return n === 'fixtures' ? [] : find(p);
      return n.endsWith('.test.ts') ? [p] : [];
    });
}

const e2e = (f) => f.startsWith(join('test', 'e2e') + '/');
const files = find('test').filter((f) => (tier === 'e2e' ? e2e(f) : !e2e(f)));
// TAP goes to stdout (streamed through, its closing summary remembered); the per-file times go to a
// file and are printed after the run, followed by the summary again, so the run ends on its counts.
mkdirSync('tmp', { recursive: true });
const timings = join('tmp', `test-timings-${tier}.txt`);
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=tap',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/file_timings.mjs',
    `--test-reporter-destination=${timings}`,
    ...args,
    ...files,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const summary = [];
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  console.log(line);
  if (/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(line)) summary.push(line);
});
child.on('close', (code, signal) => {
  if (existsSync(timings)) process.stdout.write(readFileSync(timings, 'utf8'));
  if (summary.length) console.log(`\n# ${tier} tier\n${summary.join('\n')}`);
  process.exit(code ?? (signal ? 1 : 0));
});
