/**
 * Cleanup never deletes a user's file: hostile files named exactly like diffuse's temporaries (the old
 * `.<name>.<pid>.<n>.tmp` pattern with a dead pid, the new pattern with a tag never recorded in the
 * folder, `.tmpdir` folders with contents, `checkpoint-N.old-*`) survive cleanup, in a folder that never
 * held a model and in a run folder; only temporaries whose tag the folder records are removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cleanStaleTemporaries,
  recordedWriters,
  forgetWriter,
  recordWriter,
  WRITERS_NAME,
} from '../../src/folders/index.ts';
import { WRITER_TAG, setAtomicFaultHook, writeFileAtomicSync } from '../../src/io/atomic.ts';

const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

function hostile(dir: string): string[] {
  const pid = deadPid();
  const names = [
    `.notes.txt.${pid}.0.tmp`,
    `.data.csv.${pid}.3.tmpdir`,
    `.config.json.${pid}.1.tmp`, // the old (pid) pattern of diffuse
    '.thesis.pdf.0123456789.0.tmp',
    '.photos.ffffffffff.2.tmpdir',
    `checkpoint-5.old-${pid}-1`,
    'checkpoint-6.old-abcdefabcd-0',
  ];
  for (const n of names) {
    if (/tmpdir$|old-/.test(n)) {
      fs.mkdirSync(path.join(dir, n));
      fs.writeFileSync(path.join(dir, n, 'precious.txt'), 'user data');
    } else fs.writeFileSync(path.join(dir, n), 'user data');
  }
  return names;
}

test('hostile user files named like our temporaries survive cleanup; recorded tags are cleaned', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-hostile-'));
  try {
    fs.mkdirSync(path.join(dir, 'samples'));
    const top = hostile(dir),
      inSamples = hostile(path.join(dir, 'samples'));
    // a folder that never held a model: nothing recorded, nothing removed
    assert.deepEqual(cleanStaleTemporaries(dir), []);
    // a run folder with a recorded dead writer: only its own leftovers go
    const dead = '5eed5eed5e';
    fs.appendFileSync(path.join(dir, WRITERS_NAME), `${dead}\nnot-a-tag\n`);
    recordWriter(dir);
    fs.writeFileSync(path.join(dir, `.model_index.json.${dead}.9.tmp`), 'ours');
    fs.writeFileSync(path.join(dir, 'samples', `.step-000010.png.${dead}.3.tmp`), 'ours');
    assert.deepEqual(cleanStaleTemporaries(dir).sort(), [
      `removed .model_index.json.${dead}.9.tmp`,
      `removed samples/.step-000010.png.${dead}.3.tmp`,
    ]);
    for (const n of top) assert.ok(fs.existsSync(path.join(dir, n)), `${n} was deleted`);
    for (const n of inSamples) assert.ok(fs.existsSync(path.join(dir, 'samples', n)), `samples/${n} was deleted`);
    assert.equal(fs.readFileSync(path.join(dir, '.photos.ffffffffff.2.tmpdir', 'precious.txt'), 'utf8'), 'user data');
    // the atomic writer names its temporaries with this process's tag
    let seen: string[] = [];
    const prev = setAtomicFaultHook((op) => {
      if (op === 'rename') seen = fs.readdirSync(dir).filter((n) => n.startsWith('.x.json'));
    });
    try {
      writeFileAtomicSync(path.join(dir, 'x.json'), '{}');
    } finally {
      setAtomicFaultHook(prev);
    }
    assert.equal(seen.length, 1);
    assert.match(seen[0], new RegExp(`^\\.x\\.json\\.${WRITER_TAG}\\.\\d+\\.tmp$`));
    assert.match(WRITER_TAG, /^[0-9a-f]{10}$/);
    forgetWriter(dir);
    assert.deepEqual(recordedWriters(dir), []);
    assert.ok(!fs.existsSync(path.join(dir, WRITERS_NAME)), 'an empty record is removed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
