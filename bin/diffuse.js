#!/usr/bin/env node
// The `diffuse` command. The installed package runs the compiled CLI (dist/). A source checkout runs
// the TypeScript sources through tsx (a development dependency), so it never runs a stale build.
import { existsSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// tsx caches compiled sources under the temporary folder; when that cannot be written (a read-only
// or missing TMPDIR) run without the cache instead of dying before `--help` (issue 15).
function tmpWritable() {
  try { rmdirSync(mkdtempSync(join(tmpdir(), 'diffuse-'))); return true; } catch { return false; }
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
let tsx = null;
if (existsSync(source)) {
  try {
      if (!tmpWritable()) process.env.TSX_DISABLE_CACHE = '1'; // read when tsx loads
    tsx = await import('tsx/esm/api');
  } catch {
    // no tsx (a production install of a checkout): use the build
  }
}
// A failure while starting (a missing or broken module): one line, the stack only with --verbose.
async function start(url) {
  try {
    await import(url);
  } catch (e) {
    process.stderr.write(`diffuse: cannot start: ${(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' | ')}\n`);
    if (process.argv.includes('--verbose') && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}
if (tsx) {
  tsx.register();
  await start(source.href);
} else if (existsSync(built)) {
  await start(built.href);
} else {
  console.error('diffuse: no build found (dist/); run `npm run build` first');
  process.exit(1);
}
