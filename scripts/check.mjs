// The quality gates, in one command (`npm run check`; .ci/run runs it before the tests):
//   1. types: tsc --noEmit over src, test, bench and tools (tsconfig.json) and over the web app (web/tsconfig.json);
//   2. lint + format: Biome (biome.json) — `npx biome check --write` fixes what it can;
//   3. layers: imports in src/ point downward only (test/architecture/layers.test.ts, rule in layers.ts).
// Exits non-zero naming the gate that failed.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const biome = require.resolve('@biomejs/biome/bin/biome');

const gates = [
  ['types (src, test, bench, tools)', [tsc, '--noEmit', '-p', 'tsconfig.json']],
  ['types (web)', [tsc, '--noEmit', '-p', 'web/tsconfig.json']],
  ['lint + format (biome)', [biome, 'ci', '--reporter=summary']],
  ['layers', ['--import', 'tsx', '--test', '--test-reporter=dot', 'test/architecture/layers.test.ts']],
];

const failed = [];
for (const [name, args] of gates) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  const ok = r.status === 0;
  console.log(`check: ${name}: ${ok ? 'ok' : 'FAILED'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (!ok) failed.push(name);
}
if (failed.length) {
  console.error(`check: failed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('check: all gates passed');
