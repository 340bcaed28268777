/**
 * Atomic file output: a file diffuse writes is either the complete new content or the old one
 * (or absent), never half-written — even if the process is killed or the machine loses power.
 *
 * Recipe (POSIX; the classic write-temp/fsync/rename sequence):
 *   1. write the bytes to a temporary file in the same directory (same file system, so rename is atomic),
 *   2. fsync the temporary file (its data is on disk before it gets the final name),
 *   3. rename it over the destination (atomic replacement, POSIX rename(2)),
 *   4. fsync the directory (the rename itself is durable).
 * On any error the temporary file is removed and the destination is untouched.
 *
 * Temporary names are `.<name>.<tag>.<n>.tmp`, where `tag` is WRITER_TAG (10 random hex digits drawn
 * once per process, so a user's file can never be taken for ours by its name alone) and n counts up;
 * they are opened with O_EXCL, so a stale temp file is never reused. Folder writers record the tag
 * in the folder (src/folders/temporaries.ts) and clean only leftovers that carry a recorded tag.
 *
 * Fault injection (tests only): `setAtomicFaultHook(fn)` makes every write, rename, directory
 * creation and removal of these writers call `fn(op, path)` first; `fn` may throw (ENOSPC) or kill
 * the process. src/folders/fault_injection.ts installs it from DIFFUSE_TEST_FAULT.
 *
 * @example
 *   writeFileAtomicSync('out/samples.png', pngBytes);
 *   await writeFileAtomic('out/config.json', JSON.stringify(cfg, null, 2));
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * This process's mark in the names of its temporaries (`.<name>.<WRITER_TAG>.<n>.tmp`): 10 hex digits.
 * @example WRITER_TAG // 'a3f09c11d2'
 */
export const WRITER_TAG = randomBytes(5).toString('hex');

/** The operations of the atomic writers that a fault hook sees. */
export type AtomicOp = 'write' | 'rename' | 'mkdir' | 'remove';

let faultHook: ((op: AtomicOp, target: string) => void) | null = null;

/**
 * Install (or, with null, remove) the fault-injection hook, called before every write, rename,
 * directory creation and removal of the atomic writers. Returns the previous hook. For tests.
 * @example setAtomicFaultHook((op, p) => { if (op === 'rename') throw new Error('ENOSPC'); });
 */
export function setAtomicFaultHook(
  fn: ((op: AtomicOp, target: string) => void) | null,
): ((op: AtomicOp, target: string) => void) | null {
  const prev = faultHook;
  faultHook = fn;
  return prev;
}

/**
 * Announce an operation to the fault hook (writers outside this file call it before their own
 * writes, e.g. the files of a checkpoint's temporary folder). A no-op without a hook.
 * @example faultPoint('write', path.join(tmp, 'trainer_state.json'));
 */
export function faultPoint(op: AtomicOp, target: string): void {
  if (faultHook) faultHook(op, target);
}

/**
 * `base` shortened so that `.<base><suffix>` stays within 255 bytes (the name limit of common file
 * systems): a valid 252-byte file name must still get a temporary name. The cut keeps whole
 * characters and adds a `~` so a shortened name never equals a real one.
 */
export function fitTempBase(base: string, suffix: string): string {
  const room = 255 - 1 - Buffer.byteLength(suffix);
  if (Buffer.byteLength(base) <= room) return base;
  let out = '';
  for (const ch of base) {
    if (Buffer.byteLength(out + ch) > room - 1) break;
    out += ch;
  }
  return `${out}~`;
}

function tempNameFor(target: string): string {
  const dir = path.dirname(target);
  const suffix = `.${WRITER_TAG}.${counter++}.tmp`;
  return path.join(dir, `.${fitTempBase(path.basename(target), suffix)}${suffix}`);
}

/** Options of the atomic writers. */
export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644, subject to the umask). */
  mode?: number;
  /** fsync file and directory (default true). Tests may turn it off for speed; durability is then lost. */
  fsync?: boolean;
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** fsync a directory so a rename/creation inside it is durable. Platforms that cannot (Windows) are skipped. */
export function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Directories cannot be opened or fsynced on some platforms; the rename is still atomic there.
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES' && code !== 'ENOTSUP') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function openExclusiveSync(target: string, mode: number): { fd: number; tmp: string } {
  for (let attempt = 0; ; attempt++) {
    const tmp = tempNameFor(target);
    try {
      return { fd: fs.openSync(tmp, 'wx', mode), tmp };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1000) throw e;
    }
  }
}

/**
 * Writes `data` to `target` atomically (temp file + fsync + rename + directory fsync).
 * Errors name the target file; on error the old content of `target` is untouched.
 *
 * @example writeFileAtomicSync('ckpt/trainer_state.json', JSON.stringify(state));
 */
export function writeFileAtomicSync(target: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  const bytes = toBytes(data);
  const doSync = options.fsync ?? true;
  const dir = path.dirname(target);
  let opened: { fd: number; tmp: string };
  try {
    opened = openExclusiveSync(target, options.mode ?? 0o644);
  } catch (e) {
    throw new Error(`cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
  const { fd, tmp } = opened;
  let closed = false;
  try {
    faultPoint('write', target);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    if (doSync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    faultPoint('rename', target);
    fs.renameSync(tmp, target);
  } catch (e) {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* may not exist */
    }
    throw new Error(`cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
  if (doSync) fsyncDirSync(dir);
}

/**
 * Async version of `writeFileAtomicSync`.
 * @example await writeFileAtomic('out/samples.csv', csvText);
 */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = toBytes(data);
  const doSync = options.fsync ?? true;
  let handle: fsp.FileHandle | undefined;
  let tmp = '';
  for (let attempt = 0; ; attempt++) {
    tmp = tempNameFor(target);
    try {
      handle = await fsp.open(tmp, 'wx', options.mode ?? 0o644);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1000) {
        throw new Error(`cannot write ${target}: ${(e as Error).message}`, { cause: e });
      }
    }
  }
  try {
    faultPoint('write', target);
    await handle!.writeFile(bytes);
    if (doSync) await handle!.sync();
    await handle!.close();
    handle = undefined;
    faultPoint('rename', target);
    await fsp.rename(tmp, target);
  } catch (e) {
    if (handle) {
      try {
        await handle.close();
      } catch {
        /* already failing */
      }
    }
    try {
      await fsp.unlink(tmp);
    } catch {
      /* may not exist */
    }
    throw new Error(`cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
  if (doSync) fsyncDirSync(path.dirname(target));
}

/**
 * Builds a whole directory atomically: `fill(tmpDir)` writes the files into a fresh temporary
 * directory beside `target`; every file in it is fsynced, then the directory is renamed to
 * `target`. If `target` exists it is first renamed aside and deleted only after the new one is in
 * place, so at every instant either the old or the new complete directory exists under a known name
 * (`target`, or `target` + '.old-<tag>-<n>' between the two renames). Use it for checkpoints.
 *
 * @example
 *   writeDirAtomicSync('ckpt/step-1000', (tmp) => {
 *     writeFileAtomicSync(path.join(tmp, 'config.json'), json, { fsync: false }); // fsynced below
 *     fs.writeFileSync(path.join(tmp, 'diffusion_pytorch_model.safetensors'), bytes);
 *   });
 */
export function writeDirAtomicSync(
  target: string,
  fill: (tmpDir: string) => void,
  options: { fsync?: boolean } = {},
): void {
  const doSync = options.fsync ?? true;
  const parent = path.dirname(target);
  const base = path.basename(target);
  let tmpDir = '';
  for (let attempt = 0; ; attempt++) {
    const suffix = `.${WRITER_TAG}.${counter++}.tmpdir`;
    tmpDir = path.join(parent, `.${fitTempBase(base, suffix)}${suffix}`);
    try {
      faultPoint('mkdir', target);
      fs.mkdirSync(tmpDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1000) {
        throw new Error(`cannot create ${target}: ${(e as Error).message}`, { cause: e });
      }
    }
  }
  let old: string | undefined;
  try {
    fill(tmpDir);
    if (doSync) {
      for (const name of fs.readdirSync(tmpDir)) {
        const p = path.join(tmpDir, name);
        if (!fs.statSync(p).isFile()) continue;
        const fd = fs.openSync(p, 'r');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      fsyncDirSync(tmpDir);
    }
    if (fs.existsSync(target)) {
      old = path.join(parent, `${base}.old-${WRITER_TAG}-${counter++}`);
      faultPoint('rename', old);
      fs.renameSync(target, old);
    }
    faultPoint('rename', target);
    fs.renameSync(tmpDir, target);
  } catch (e) {
    if (old !== undefined && !fs.existsSync(target)) {
      try {
        fs.renameSync(old, target);
        old = undefined;
      } catch {
        /* keep .old */
      }
    }
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`cannot write directory ${target}: ${(e as Error).message}`, { cause: e });
  }
  if (doSync) fsyncDirSync(parent);
  if (old !== undefined) {
    faultPoint('remove', old);
    fs.rmSync(old, { recursive: true, force: true });
  }
}
