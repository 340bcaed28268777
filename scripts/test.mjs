// Runs every test/**/*.test.ts with Node's built-in test runner (Node 20 has no glob support).
// Extra arguments are passed on, e.g. `npm test -- --test-name-pattern=conv`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir) {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'fixtures' ? [] : find(p);
    return n.endsWith('.test.ts') ? [p] : [];
  });
}

const files = find('test');
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
