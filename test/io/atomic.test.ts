import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeDirAtomicSync, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));

test('writeFileAtomicSync writes and replaces, leaving no temp files', () => {
  const dir = tmp();
  const p = path.join(dir, 'a.json');
  writeFileAtomicSync(p, '{"v":1}');
  assert.equal(fs.readFileSync(p, 'utf8'), '{"v":1}');
  writeFileAtomicSync(p, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...fs.readFileSync(p)], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['a.json']);
  fs.rmSync(dir, { recursive: true });
});

test('a failed write names the target and leaves the old file and no temp file', async () => {
  const dir = tmp();
  assert.throws(
    () => writeFileAtomicSync(path.join(dir, 'missing', 'x.bin'), 'x'),
    /cannot write .*missing\/x\.bin: ENOENT/,
  );
  // rename onto a non-empty directory fails after the temp file was written: it must be cleaned up
  const target = path.join(dir, 'sub');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep'), 'k');
  assert.throws(() => writeFileAtomicSync(target, 'data'), /cannot write .*sub:/);
  await assert.rejects(writeFileAtomic(target, 'data'), /cannot write .*sub:/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['sub']);
  assert.equal(fs.readFileSync(path.join(target, 'keep'), 'utf8'), 'k');
  fs.rmSync(dir, { recursive: true });
});

test('writeFileAtomic (async) writes', async () => {
  const dir = tmp();
  const p = path.join(dir, 'b.txt');
  await writeFileAtomic(p, 'hello');
  await writeFileAtomic(p, 'world');
  assert.equal(fs.readFileSync(p, 'utf8'), 'world');
  assert.deepEqual(fs.readdirSync(dir), ['b.txt']);
  fs.rmSync(dir, { recursive: true });
});

test('writeDirAtomicSync builds, replaces, and on failure keeps the old directory', () => {
  const dir = tmp();
  const ck = path.join(dir, 'ckpt');
  writeDirAtomicSync(ck, (t) => {
    fs.writeFileSync(path.join(t, 'config.json'), '1');
  });
  assert.equal(fs.readFileSync(path.join(ck, 'config.json'), 'utf8'), '1');
  writeDirAtomicSync(ck, (t) => {
    fs.writeFileSync(path.join(t, 'config.json'), '2');
    fs.writeFileSync(path.join(t, 'w.bin'), 'w');
  });
  assert.deepEqual(fs.readdirSync(ck).sort(), ['config.json', 'w.bin']);
  assert.equal(fs.readFileSync(path.join(ck, 'config.json'), 'utf8'), '2');
  assert.throws(
    () =>
      writeDirAtomicSync(ck, (t) => {
        fs.writeFileSync(path.join(t, 'config.json'), '3');
        throw new Error('disk full');
      }),
    /cannot write directory .*ckpt: disk full/,
  );
  assert.equal(fs.readFileSync(path.join(ck, 'config.json'), 'utf8'), '2');
  assert.deepEqual(fs.readdirSync(dir), ['ckpt']);
  fs.rmSync(dir, { recursive: true });
});

test('SIGKILL during repeated atomic writes never leaves a partial file', async () => {
  const dir = tmp();
  const target = path.join(dir, 'state.bin');
  const size = 1 << 20;
  // the original is all 'C': afterwards the file must be one complete 'A' or 'B' version of a child
  // (comparing inode numbers instead was flaky: a freed inode number can come back for a later temp file)
  writeFileAtomicSync(target, new Uint8Array(size).fill(67));
  const atomicUrl = new URL('../../src/io/atomic.ts', import.meta.url).href;
  // child: alternately writes 1 MiB of 'A' and of 'B', forever
  const script = `import { writeFileAtomicSync } from ${JSON.stringify(atomicUrl)};
    const a = new Uint8Array(${size}).fill(65), b = new Uint8Array(${size}).fill(66);
    writeFileAtomicSync(${JSON.stringify(target)}, b); // one complete replacement before 'ready' (the machine may be slow)
    process.stdout.write('ready\\n');
    for (let i = 0; ; i++) writeFileAtomicSync(${JSON.stringify(target)}, i % 2 ? a : b);`;
  for (const delayMs of [5, 40, 120]) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, delayMs));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const got = fs.readFileSync(target);
    assert.equal(got.length, size, `after kill at ${delayMs} ms the file has ${got.length} bytes`);
    assert.ok(got.every((v) => v === got[0]) && (got[0] === 65 || got[0] === 66), 'file is one complete version');
  }
  // temp files of killed writers may remain (named .state.bin.<writer tag>.<n>.tmp); the target is intact
  for (const f of fs.readdirSync(dir))
    assert.ok(f === 'state.bin' || /^\.state\.bin\.[0-9a-f]{10}\.\d+\.tmp$/.test(f), f);
  fs.rmSync(dir, { recursive: true });
});
