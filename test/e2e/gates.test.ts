/**
 * The gates of `npm run check` catch what they are for: a copy of the repository's checked folders
 * with one deliberately mis-formatted file fails Biome, one ill-typed file fails tsc, and an upward
 * import fails the layer rule — each with the repository's own configuration.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { violations } from '../architecture/layers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const biome = require.resolve('@biomejs/biome/bin/biome');
const tsc = require.resolve('typescript/bin/tsc');

function sandbox(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-gates-'));
  for (const f of ['biome.json', 'tsconfig.json']) fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'src', 'engine'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'src', 'samplers'), { recursive: true });
  return dir;
}

test('Biome fails a mis-formatted file and passes it once formatted', () => {
  const dir = sandbox();
  const file = path.join(dir, 'src', 'engine', 'probe.ts');
  fs.writeFileSync(file, 'export   function probe( a:number ){return a*2}\n');
  const bad = spawnSync(process.execPath, [biome, 'ci', 'src'], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'biome ci accepted a mis-formatted file');
  spawnSync(process.execPath, [biome, 'format', '--write', 'src'], { cwd: dir });
  const good = spawnSync(process.execPath, [biome, 'ci', 'src'], { cwd: dir, encoding: 'utf8' });
  assert.equal(good.status, 0, good.stdout + good.stderr);
});

test('tsc fails an ill-typed file under the repository tsconfig', () => {
  const dir = sandbox();
  fs.writeFileSync(path.join(dir, 'src', 'engine', 'probe.ts'), 'export const n: number = "not a number";\n');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /TS2322/);
});

test('the layer rule fails an upward import and passes a downward one', () => {
  const dir = sandbox();
  const src = path.join(dir, 'src');
  fs.writeFileSync(path.join(src, 'samplers', 'a.ts'), "import { x } from '../engine/b.ts';\nexport const y = x;\n");
  fs.writeFileSync(path.join(src, 'engine', 'b.ts'), 'export const x = 1;\n');
  assert.deepEqual(violations(src), []);
  fs.writeFileSync(
    path.join(src, 'engine', 'b.ts'),
    "import type { y } from '../samplers/a.ts';\nexport const x = 1;\nexport type Y = typeof y;\n",
  );
  assert.deepEqual(violations(src), ["src/engine/b.ts (engine) imports '../samplers/a.ts' (samplers)"]);
});
