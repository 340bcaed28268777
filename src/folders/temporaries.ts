/**
 * Cleaning up after a killed writer without ever deleting a user's file.
 *
 * Every temporary diffuse creates carries the writer's tag (WRITER_TAG of io/atomic.ts: 10 random
 * hex digits per process) in its name: `.<name>.<tag>.<n>.tmp`, `.<name>.<tag>.<n>.tmpdir`,
 * `<name>.old-<tag>-<n>`. A writer that holds a folder's lock (lock.ts) first records its tag in
 * DIR/.diffuse-writers. Cleanup deletes a temporary only when its tag is recorded there and is not
 * the cleaner's own: a file merely named like one of ours (a user's `.notes.1234.0.tmp`, or any tag
 * never recorded in this folder) is never touched. After cleaning, the record keeps only the
 * cleaner's tag; a clean exit removes that too (and the file when empty).
 *
 * Where: DIR, DIR/unet, DIR/scheduler and DIR/samples (the folders a training run writes into).
 *
 * @example
 *   recordWriter('runs/a');                       // holding the lock, before writing
 *   cleanStaleTemporaries('runs/a');              // ['removed .checkpoint-40.a3f09c11d2.7.tmpdir']
 */
import fs from 'node:fs';
import path from 'node:path';
import { WRITER_TAG } from '../io/atomic.ts';
import { SCHEDULER_FOLDER, TRAINER_STATE_NAME, UNET_FOLDER, WRITERS_NAME } from './names.ts';

const TAG = /^[0-9a-f]{10}$/;
const TEMP = /^\..+\.([0-9a-f]{10})\.\d+\.(tmp|tmpdir)$/;
const OLD = /^(checkpoint-\d+)\.old-([0-9a-f]{10})-\d+$/;

/** The tags recorded in DIR/.diffuse-writers (malformed lines are ignored). @example recordedWriters('runs/a') */
export function recordedWriters(dir: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, WRITERS_NAME), 'utf8');
  } catch {
    return [];
  }
  return [
    ...new Set(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => TAG.test(l)),
    ),
  ];
}

/**
 * Record this process's tag in DIR/.diffuse-writers (appended and fsynced, no temporary), before it
 * writes anything there. Call it while holding the folder's lock. @example recordWriter('runs/a')
 */
export function recordWriter(dir: string): void {
  if (recordedWriters(dir).includes(WRITER_TAG)) return;
  const fd = fs.openSync(path.join(dir, WRITERS_NAME), 'a');
  try {
    fs.writeSync(fd, `${WRITER_TAG}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeWriters(dir: string, tags: string[]): void {
  const file = path.join(dir, WRITERS_NAME);
  if (!tags.length) {
    fs.rmSync(file, { force: true });
    return;
  }
  // Whole-file rewrite without a temporary: a torn write only loses tags of files that are gone already.
  fs.writeFileSync(file, tags.map((t) => `${t}\n`).join(''));
}

/** Remove this process's tag from DIR/.diffuse-writers (on a clean exit: it left no temporaries). @example forgetWriter('runs/a') */
export function forgetWriter(dir: string): void {
  const tags = recordedWriters(dir);
  if (tags.includes(WRITER_TAG))
    writeWriters(
      dir,
      tags.filter((t) => t !== WRITER_TAG),
    );
}

/**
 * Remove what killed writers of this folder left (temporary files and folders whose tag is recorded
 * in DIR/.diffuse-writers and is not ours); a `checkpoint-N.old-<tag>-<n>` of an interrupted
 * replacement is renamed back to checkpoint-N when that is missing and the old one is complete.
 * Call it holding the folder's lock. Returns what it did, one line per entry.
 * @example cleanStaleTemporaries('runs/moons') // ['removed .checkpoint-40.a3f09c11d2.7.tmpdir']
 */
export function cleanStaleTemporaries(dir: string): string[] {
  const dead = new Set(recordedWriters(dir).filter((t) => t !== WRITER_TAG));
  const done: string[] = [];
  if (!dead.size) return done;
  for (const sub of ['', UNET_FOLDER, SCHEDULER_FOLDER, 'samples']) {
    const d = path.join(dir, sub);
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path.join(d, name);
      const rel = sub ? `${sub}/${name}` : name;
      const tmp = TEMP.exec(name);
      const old = sub === '' ? OLD.exec(name) : null;
      if (tmp && dead.has(tmp[1])) {
        fs.rmSync(p, { recursive: true, force: true });
        done.push(`removed ${rel}`);
      } else if (old && dead.has(old[2])) {
        const target = path.join(dir, old[1]);
        if (!fs.existsSync(target) && fs.existsSync(path.join(p, TRAINER_STATE_NAME))) {
          fs.renameSync(p, target);
          done.push(`restored ${old[1]} from ${name}`);
        } else {
          fs.rmSync(p, { recursive: true, force: true });
          done.push(`removed ${name}`);
        }
      }
    }
  }
  writeWriters(
    dir,
    recordedWriters(dir).filter((t) => !dead.has(t)),
  );
  return done;
}
