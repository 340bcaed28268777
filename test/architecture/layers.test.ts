/**
 * The layers of src/ import downward only (docs/architecture.md draws them). Each folder may import
 * the folders listed for it here and nothing above; a new import that bends a layer fails this test
 * naming the file and the import. The public entry points (src/index.ts, src/web.ts) may import
 * anything; src/web.ts and the browser-safe modules must not reach a Node.js built-in.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALLOWED, violations } from './layers.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

test('every folder of src/ has a place in the layer order', () => {
  const folders = fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const f of folders)
    assert.ok(
      f in ALLOWED,
      `src/${f}/ is not in test/architecture/layers.ts (add it with the layers it may import, and to docs/architecture.md)`,
    );
});

test('imports point downward only', () => {
  assert.deepEqual(violations(SRC), []);
});

test('the layer order has no cycle', () => {
  const seen = new Set<string>(),
    stack = new Set<string>();
  const visit = (l: string): void => {
    assert.ok(!stack.has(l), `cycle through ${l}`);
    if (seen.has(l)) return;
    stack.add(l);
    for (const d of ALLOWED[l] ?? []) visit(d);
    stack.delete(l);
    seen.add(l);
  };
  for (const l of Object.keys(ALLOWED)) visit(l);
});

test('the browser entry point (src/web.ts) reaches no Node.js built-in through static imports', () => {
  const visited = new Set<string>();
  const nodeImports: string[] = [];
  const walk = (file: string, via: string[]): void => {
    if (visited.has(file)) return;
    visited.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^'"]*?\bfrom\s+'([^']+)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || ['fs', 'path', 'os', 'crypto', 'child_process'].includes(spec))
        nodeImports.push(`${[...via, path.relative(SRC, file)].join(' -> ')} imports '${spec}'`);
      else if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec), [...via, path.relative(SRC, file)]);
    }
  };
  walk(path.join(SRC, 'web.ts'), []);
  assert.deepEqual(nodeImports, []);
});
