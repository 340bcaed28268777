/**
 * What the browser playground relies on, checked without a browser:
 * - every module reachable from web/src/lib.ts (the playground's only door into src/) imports no
 *   Node-only module, so the browser bundle stays free of fs, path, crypto, os and onnxruntime-node;
 * - the engine's session layer is pluggable: after setBackend(b), compile() creates its sessions
 *   with b (here a counting wrapper around onnxruntime-node), and the results are unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NDArray, compile, exp, getBackend, setBackend, trace, type RuntimeBackend } from '../../src/engine/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_ONLY =
  /^(node:|fs$|path$|os$|crypto$|child_process$|module$|url$|worker_threads$|onnxruntime-node$|pngjs$|jpeg-js$|gifenc$)/;

/** Static import specifiers of a TS file (`import ... from 'x'`, `export ... from 'x'`, `import 'x'`); `import type` is erased, so skipped. */
function importsOf(file: string): string[] {
  const src = fs
    .readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of src.matchAll(
    /^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm,
  ))
    out.push(m[1] ?? m[2]);
  return out;
}

test('modules reachable from the page and the model worker import nothing Node-only', () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\?.*$/, '')));
      else if (NODE_ONLY.test(spec)) offenders.push(`${path.relative(root, file)} imports '${spec}'`);
    }
  };
  visit(path.join(root, 'web/src/main.ts'));
  visit(path.join(root, 'web/src/model_worker.ts'));
  assert.ok(seen.size > 40, `walked only ${seen.size} modules`);
  assert.ok(
    seen.has(path.join(root, 'src/engine/runtime.ts')) && seen.has(path.join(root, 'src/training/train_step.ts')),
  );
  assert.deepEqual(offenders, [], `Node-only imports would reach the browser bundle:\n${offenders.join('\n')}`);
});

test('compile() uses the backend given to setBackend', async () => {
  const node = await getBackend();
  let created = 0;
  const counting: RuntimeBackend = {
    name: 'counting-wrapper',
    defaultThreads: () => 1,
    async createSession(bytes, options) {
      created++;
      return node.createSession(bytes, options);
    },
  };
  const g = trace((x) => exp(x), [{ name: 'x', shape: [3] }]);
  try {
    setBackend(counting);
    const f = await compile(g);
    const [y] = await f.run({ x: NDArray.from([0, 1, 2]) });
    [1, Math.E, Math.exp(2)].forEach((v, i) =>
      assert.ok(Math.abs(y.data[i] - v) < 1e-6 * v, `exp: ${y.data[i]} vs ${v}`),
    );
    assert.equal(created, 1);
    await compile(g); // cached per backend + graph
    assert.equal(created, 1);
  } finally {
    setBackend(node);
  }
  assert.equal(await getBackend(), node);
});
