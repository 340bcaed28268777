/**
 * Every TypeScript/JavaScript code block in README.md and docs/ runs as written: each block is
 * written to a file with its `diffuse` imports pointed at this checkout's sources, and run in a
 * fresh Node.js process (through tsx) in an empty folder. A block meant as a fragment is fenced as
 * ```ts no-run (or is a ```sh / ```text block).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The package's entry points, as package.json's exports map names them, mapped to the sources. */
const ENTRY: Record<string, string> = {
  diffuse: 'src/index.ts',
  'diffuse/engine': 'src/engine/index.ts',
  'diffuse/nn': 'src/nn/index.ts',
  'diffuse/samplers': 'src/samplers/index.ts',
  'diffuse/web': 'src/web.ts',
};

interface Block {
  file: string;
  line: number;
  code: string;
}

function markdownFiles(): string[] {
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.md') ? [path.join(d, e.name)] : [],
      );
  return ['README.md', ...walk(path.join(REPO, 'docs')).map((f) => path.relative(REPO, f))];
}

export function runnableBlocks(file: string): Block[] {
  const lines = fs.readFileSync(path.join(REPO, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!m || !m[1]) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) break;
    if (['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(m[1]) && !/\bno-run\b/.test(m[2]!)) {
      out.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    }
    i = end;
  }
  return out;
}

function withLocalImports(code: string): string {
  return code.replace(/from\s+'(diffuse(?:\/[a-z]+)?)'/g, (all, spec: string) => {
    const target = ENTRY[spec];
    if (!target)
      throw new Error(`unknown entry point '${spec}' (package.json exports: ${Object.keys(ENTRY).join(', ')})`);
    return `from '${pathToFileURL(path.join(REPO, target)).href}'`;
  });
}

function runBlock(b: Block, dir: string): Promise<{ code: number | null; out: string }> {
  const file = path.join(dir, `block-${b.line}.mts`);
  fs.writeFileSync(file, withLocalImports(b.code));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), file], {
      cwd: dir,
      env: { ...process.env, DIFFUSE_QUIET_BACKEND: '1' },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

for (const file of markdownFiles()) {
  const blocks = runnableBlocks(file);
  if (blocks.length === 0) continue;
  test(`${file}: ${blocks.length} code block(s) run as written`, { timeout: 600_000 }, async (t) => {
    for (const b of blocks) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-docs-'));
      const r = await runBlock(b, dir);
      t.diagnostic(`${file}:${b.line}: exit ${r.code}`);
      assert.equal(r.code, 0, `${file}:${b.line}: the block failed:\n${r.out.slice(-3000)}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
