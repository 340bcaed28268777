/**
 * The writer lock of an output folder: exclusive (a second taker gets one line naming the holder), released
 * on release and at exit, a stale lock (dead pid, recycled pid) taken over, a live or foreign-host lock never
 * stolen, an unreadable lock not guessed at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  acquireFolderLock,
  readFolderLock,
  lockIsStale,
  processStartTicks,
  withFolderLock,
  FolderLockError,
  LOCK_NAME,
  recordedWriters,
} from '../../src/folders/index.ts';
import { WRITER_TAG } from '../../src/io/atomic.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-lock-'));
const lockOf = (o: Partial<{ pid: number; host: string; tag: string; procStart: string | null }>) =>
  JSON.stringify({
    pid: 1,
    host: os.hostname(),
    started: '2026-01-01T00:00:00.000Z',
    command: 'train',
    tag: 'abcdef0123',
    procStart: null,
    ...o,
  });

test('exclusive in one process; released by release() and withFolderLock; records and forgets the writer tag', async () => {
  const dir = tmp();
  try {
    const lock = acquireFolderLock(dir, 'train');
    const info = readFolderLock(dir)!;
    assert.equal(info.pid, process.pid);
    assert.equal(info.host, os.hostname());
    assert.equal(info.tag, WRITER_TAG);
    assert.equal(info.command, 'train');
    assert.ok(!Number.isNaN(Date.parse(info.started)));
    assert.deepEqual(recordedWriters(dir), [WRITER_TAG]);
    assert.throws(
      () => acquireFolderLock(dir, 'export'),
      (e: Error) =>
        e instanceof FolderLockError && /is in use by this process \(`train`\); one writer per folder$/.test(e.message),
    );
    lock.release();
    lock.release();
    assert.ok(!fs.existsSync(path.join(dir, LOCK_NAME)));
    assert.deepEqual(recordedWriters(dir), []);
    const r = await withFolderLock(dir, 'export', () => {
      assert.ok(fs.existsSync(path.join(dir, LOCK_NAME)));
      return 7;
    });
    assert.equal(r, 7);
    assert.ok(!fs.existsSync(path.join(dir, LOCK_NAME)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a live lock is never stolen (another process holds it); a foreign host or an unreadable lock is not guessed at', async () => {
  const dir = tmp();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    const file = path.join(dir, LOCK_NAME);
    fs.writeFileSync(file, lockOf({ pid: child.pid!, procStart: processStartTicks(child.pid!) }));
    assert.equal(lockIsStale(readFolderLock(dir)!), false);
    assert.throws(
      () => acquireFolderLock(dir, 'train'),
      (e: Error) => {
        assert.ok(e instanceof FolderLockError);
        assert.match(
          e.message,
          new RegExp(
            `is in use by another diffuse process \\(pid ${child.pid} on ${os.hostname()}, \`train\` since 2026-01-01T00:00:00\\.000Z\\); wait for it to finish or choose another folder \\(lock: .*\\.diffuse\\.lock\\)$`,
          ),
        );
        return true;
      },
    );
    assert.equal(readFolderLock(dir)!.pid, child.pid, 'the live lock is untouched');
    fs.writeFileSync(file, lockOf({ pid: 999999, host: 'elsewhere.example' }));
    assert.throws(
      () => acquireFolderLock(dir, 'train'),
      /another host: its process cannot be checked from here; if it is gone, delete the lock file/,
    );
    fs.writeFileSync(file, '{"pid": ');
    assert.throws(
      () => acquireFolderLock(dir, 'train'),
      /is locked by .*\.diffuse\.lock, which cannot be read; if no diffuse process writes there, delete that file$/,
    );
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale lock is taken over: dead pid, and a recycled pid (running, but started at another time)', () => {
  const dir = tmp();
  try {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(dir, LOCK_NAME), lockOf({ pid: dead }));
    assert.equal(lockIsStale(readFolderLock(dir)!), true);
    const a = acquireFolderLock(dir, 'train');
    assert.equal(readFolderLock(dir)!.tag, WRITER_TAG);
    a.release();
    if (processStartTicks(process.pid) !== null) {
      // pid 1 is running, but it is not the process that took this lock (another start time)
      fs.writeFileSync(path.join(dir, LOCK_NAME), lockOf({ pid: 1, procStart: '1' }));
      assert.equal(lockIsStale(readFolderLock(dir)!), processStartTicks(1) !== '1');
      fs.writeFileSync(path.join(dir, LOCK_NAME), lockOf({ pid: 1, procStart: processStartTicks(1) }));
      assert.equal(lockIsStale(readFolderLock(dir)!), false, 'same pid, same start: alive');
    }
    // a takeover guard left by a dead process does not block forever
    fs.writeFileSync(path.join(dir, LOCK_NAME), lockOf({ pid: dead }));
    fs.writeFileSync(path.join(dir, `${LOCK_NAME}.takeover`), lockOf({ pid: dead, tag: '0000000000' }));
    const b = acquireFolderLock(dir, 'train');
    assert.ok(!fs.existsSync(path.join(dir, `${LOCK_NAME}.takeover`)));
    b.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('two processes race for one folder: exactly one wins', async () => {
  const dir = tmp();
  try {
    const script = `import('${new URL('../../src/folders/lock.ts', import.meta.url).href}').then(async (m) => {
      try { m.acquireFolderLock(${JSON.stringify(dir)}, 'race'); console.log('won'); await new Promise((r) => setTimeout(r, 4000)); }
      catch (e) { console.log('lost: ' + e.message); } })`;
    const run = () =>
      new Promise<string>((resolve) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (d) => {
          out += d;
        });
        c.on('close', () => resolve(out.trim()));
      });
    const results = await Promise.all([run(), run(), run()]);
    assert.equal(results.filter((r) => r === 'won').length, 1, results.join('\n'));
    assert.equal(
      results.filter((r) => r.startsWith('lost: ') && r.includes('is in use by another diffuse process')).length,
      2,
      results.join('\n'),
    );
    assert.ok(!fs.existsSync(path.join(dir, LOCK_NAME)), 'released at exit');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
