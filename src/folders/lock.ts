/**
 * One writer per output folder: an exclusive lock file DIR/.diffuse.lock holding who writes there
 * ({pid, host, started, command, tag, procStart}). Taken by `train`, and by every command that
 * writes a model folder (export to a folder), before anything is written; released on exit. A
 * command that writes one output file (export --onnx, eval --out) locks that file the same way
 * (`.<name>.lock` beside it), so two writers of one output fail instead of racing.
 *
 * - Taking it is atomic: the content is written to a temporary file that is then hard-linked to
 *   the lock's name (link(2) fails if the name exists), so a lock file is never seen half-written.
 * - A lock is stale only when it was taken on this host and its process is gone: the pid is not
 *   running, or it is running but started at another time than the lock's (a recycled pid; the
 *   start time is the process's start in clock ticks from /proc/<pid>/stat). A lock of another host,
 *   or one that cannot be checked, is never stolen; the error says how to remove it by hand.
 * - A stale lock is taken over under a second lock (DIR/.diffuse.lock.takeover, same rules), so two
 *   processes that find the same stale lock cannot both take it.
 * - Within one process, a folder locked already cannot be locked again (two runs on one folder).
 *
 * @example
 *   const lock = acquireFolderLock('runs/a', 'train');
 *   try { ... } finally { lock.release(); }
 *   await withFolderLock('runs/a', 'export', async () => { ... });
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WRITER_TAG, fitTempBase } from '../io/atomic.ts';
import { LOCK_NAME } from './names.ts';
import { forgetWriter, recordWriter } from './temporaries.ts';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** The command that holds it (train, export, ...). */
  command: string;
  /** The holder's writer tag (its temporaries carry it). */
  tag: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22), where known. */
  procStart: string | null;
}

/** A held lock. */
export interface FolderLock {
  /** The folder (or file) locked. */
  dir: string;
  /** The lock file. */
  file: string;
  info: LockInfo;
  /** Release (idempotent): remove the lock file if it is still ours, forget our writer tag. */
  release(): void;
}

/** The folder is locked by another live writer (or a lock that cannot be checked). */
export class FolderLockError extends Error {
  constructor(
    message: string,
    readonly holder: LockInfo | null,
  ) {
    super(message);
    this.name = 'FolderLockError';
  }
}

const held = new Map<string, FolderLock>();
let tmpCounter = 0;

/** A process's start time in clock ticks since boot, or null where /proc is not available. @example processStartTicks(process.pid) */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields restart after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // field 22 overall = 20th after "pid (comm)"
  } catch {
    return null;
  }
}

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a lock's holder is certainly gone: taken on this host, and its pid is not running or
 * belongs to a process that started at another time. @example lockIsStale(readFolderLock('runs/a')!)
 */
export function lockIsStale(info: LockInfo): boolean {
  if (info.host !== os.hostname()) return false;
  if (info.pid === process.pid) return info.tag !== WRITER_TAG; // our pid, another tag: a dead process's recycled pid
  if (!pidRunning(info.pid)) return true;
  const now = processStartTicks(info.pid);
  return info.procStart !== null && now !== null && now !== info.procStart;
}

function parseLock(file: string): LockInfo | null {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  const o = j as Partial<LockInfo>;
  if (
    !o ||
    typeof o !== 'object' ||
    !Number.isInteger(o.pid) ||
    typeof o.host !== 'string' ||
    typeof o.tag !== 'string'
  )
    return null;
  return {
    pid: o.pid!,
    host: o.host,
    started: String(o.started),
    command: String(o.command),
    tag: o.tag,
    procStart: typeof o.procStart === 'string' ? o.procStart : null,
  };
}

/** The lock of DIR, or null when there is none (or it cannot be read). @example readFolderLock('runs/a')?.pid */
export function readFolderLock(dir: string): LockInfo | null {
  return parseLock(path.join(dir, LOCK_NAME));
}

/**
 * Create `file` holding `info` atomically; false if it exists. A hard link of a complete temporary
 * file; on file systems without hard links, an exclusive create (O_EXCL) written at once.
 */
function linkNew(file: string, info: LockInfo): boolean {
  const text = `${JSON.stringify(info)}\n`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${WRITER_TAG}.${tmpCounter++}.tmp`);
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV')
        throw e;
      try {
        fs.writeFileSync(file, text, { flag: 'wx' });
        return true;
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e2;
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  } catch (e) {
    if (e instanceof FolderLockError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new FolderLockError(
      `cannot lock ${path.dirname(file)}: ${err.code ?? ''} ${err.message.replace(/^\w+: /, '')}`.replace(/\s+/g, ' '),
      null,
    );
  }
}

function describeHolder(i: LockInfo): string {
  return `pid ${i.pid} on ${i.host}, \`${i.command}\` since ${i.started}`;
}

/**
 * Take the exclusive lock of DIR (created if missing) for `command`; throws FolderLockError (one
 * line naming the folder and the holder) when another live writer holds it. A stale lock (see the
 * file comment) is taken over. The holder's writer tag is recorded for cleanup (temporaries.ts).
 * @example const lock = acquireFolderLock('runs/a', 'train'); ...; lock.release();
 */
export function acquireFolderLock(dir: string, command: string): FolderLock {
  fs.mkdirSync(dir, { recursive: true });
  return acquireLock(dir, path.join(dir, LOCK_NAME), fs.realpathSync(dir), command, true);
}

/**
 * Take the exclusive lock of one output file (`.<name>.lock` beside it, same rules as a folder's):
 * two commands writing the same report, sample grid or ONNX file fail instead of racing.
 * @example const lock = acquireFileLock('out/report.json', 'eval'); try { ... } finally { lock.release(); }
 */
export function acquireFileLock(file: string, command: string): FolderLock {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  // shortened for long names: the lock's own temporaries (.<lock>.takeover, .<lock>.<tag>.<n>.tmp) must fit 255 bytes too
  const lockFile = path.join(dir, `.${fitTempBase(path.basename(file), '..lock.takeover.0123456789.999999.tmp')}.lock`);
  return acquireLock(file, lockFile, path.join(fs.realpathSync(dir), path.basename(file)), command, false);
}

function acquireLock(what: string, file: string, key: string, command: string, record: boolean): FolderLock {
  const dir = path.dirname(file);
  const mine = held.get(key);
  if (mine)
    throw new FolderLockError(
      `${what} is in use by this process (\`${mine.info.command}\`); one writer per ${record ? 'folder' : 'file'}`,
      mine.info,
    );
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    command,
    tag: WRITER_TAG,
    procStart: processStartTicks(process.pid),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (linkNew(file, info)) {
      const lock: FolderLock = {
        dir: what,
        file,
        info,
        release: () => {
          if (held.get(key) !== lock) return;
          held.delete(key);
          process.removeListener('exit', onExit);
          if (record) {
            try {
              forgetWriter(dir);
            } catch {
              /* the lock goes anyway */
            }
          }
          if (parseLock(file)?.tag === WRITER_TAG) fs.rmSync(file, { force: true });
        },
      };
      const onExit = () => lock.release();
      process.on('exit', onExit);
      held.set(key, lock);
      if (record) recordWriter(dir);
      return lock;
    }
    const other = parseLock(file);
    if (!other) {
      throw new FolderLockError(
        `${what} is locked by ${file}, which cannot be read; if no diffuse process writes there, delete that file`,
        null,
      );
    }
    if (!lockIsStale(other)) {
      const where =
        other.host === os.hostname()
          ? ''
          : ' (another host: its process cannot be checked from here; if it is gone, delete the lock file)';
      throw new FolderLockError(
        `${what} is in use by another diffuse process (${describeHolder(other)})${where}; wait for it to finish or choose another ${record ? 'folder' : 'file'} (lock: ${file})`,
        other,
      );
    }
    takeOver(file, other, info);
  }
  throw new FolderLockError(
    `${what}: could not take the lock ${file} (it changed hands 5 times while trying)`,
    parseLock(file),
  );
}

/** Remove a stale lock under the takeover lock; leaves `file` absent (or taken by another process). */
function takeOver(file: string, stale: LockInfo, me: LockInfo): void {
  const guard = `${file}.takeover`;
  if (!linkNew(guard, me)) {
    const g = parseLock(guard);
    if (g && lockIsStale(g)) {
      fs.rmSync(guard, { force: true });
      return;
    }
    throw new FolderLockError(
      `${path.dirname(file)} is being taken over by another process (${g ? describeHolder(g) : guard}); try again`,
      g,
    );
  }
  try {
    const now = parseLock(file);
    if (now && now.tag === stale.tag) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/**
 * Run `fn` holding the lock of the output file `file`; released when it settles.
 * @example await withFileLock('out/model.onnx', 'export', () => writeFileAtomicSync('out/model.onnx', bytes));
 */
export async function withFileLock<T>(file: string, command: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = acquireFileLock(file, command);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Run `fn` holding DIR's lock; released when it settles.
 * @example await withFolderLock('out/pipe', 'export', () => writeModelFolder('out/pipe', files));
 */
export async function withFolderLock<T>(dir: string, command: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = acquireFolderLock(dir, command);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
