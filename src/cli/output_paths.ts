/**
 * Checks of the paths a command will write, before any work starts, with one-line errors that name
 * the option, the path and what is wrong (`--out a/b: a is a file, not a folder`), and the
 * translation of raw file-system errors (`ENOTDIR: not a directory, mkdir ...`) into such lines.
 *
 * @example
 *   checkOutputFolder(o.out, '--out');           // a folder to create or fill
 *   checkOutputFile(o.out, '--out', ['.png', '.csv', '.gif']);
 */
import fs from 'node:fs';
import path from 'node:path';

const WHY: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'the name is too long (at most 255 bytes per name)',
  EISDIR: 'it is a folder, not a file',
  EEXIST: 'it already exists',
  ENOENT: 'no such file or folder',
  EMFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
};

/** A plain-words reason for an errno code. @example reasonOf('EROFS') // 'the file system is read-only' */
export function reasonOf(code: string | undefined): string {
  return (code && WHY[code]) ?? code ?? 'unknown error';
}

/** The nearest existing ancestor of p (p itself when it exists). */
function existingAncestor(p: string): string {
  let cur = path.resolve(p);
  for (;;) {
    try {
      fs.statSync(cur);
      return cur;
    } catch {
      /* go up */
    }
    const up = path.dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
}

function checkWritableAncestor(p: string, option: string, shown = p): void {
  const anc = existingAncestor(p);
  const st = fs.statSync(anc);
  if (!st.isDirectory()) {
    throw new Error(
      `${option} ${shown}: ${anc === path.resolve(shown) ? 'exists and is a file, not a folder' : `${anc} is a file, not a folder`}`,
    );
  }
  try {
    fs.accessSync(anc, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${option} ${shown}: cannot write in ${anc} (${reasonOf(code)})`);
  }
}

function checkNames(p: string, option: string): void {
  for (const part of path.resolve(p).split(path.sep)) {
    if (Buffer.byteLength(part) > 255)
      throw new Error(
        `${option} ${p}: the name ${JSON.stringify(part.slice(0, 20) + '...')} is ${Buffer.byteLength(part)} bytes long (at most 255 bytes per name)`,
      );
  }
}

/**
 * An output folder: non-empty path; an existing folder or creatable in a writable folder.
 * @example checkOutputFolder('runs/a', '--out')
 */
export function checkOutputFolder(p: string, option: string): void {
  if (typeof p !== 'string' || p.trim() === '')
    throw new Error(
      `${option} ${JSON.stringify(p ?? '')}: an output folder is required (an empty path is not allowed)`,
    );
  checkNames(p, option);
  checkWritableAncestor(p, option);
}

/**
 * An output file: non-empty path with one of `extensions`; not a folder; its folder exists or can be created.
 * @example checkOutputFile('out/x.png', '--out', ['.png', '.csv', '.gif'])
 */
export function checkOutputFile(p: string, option: string, extensions?: readonly string[]): void {
  if (typeof p !== 'string' || p.trim() === '')
    throw new Error(
      `${option} ${JSON.stringify(p ?? '')}: an output file is required (an empty path is not allowed${extensions ? `; use a name ending in ${extensions.join(', ')}` : ''})`,
    );
  if (extensions) {
    const ext = path.extname(p).toLowerCase();
    if (!extensions.includes(ext))
      throw new Error(`${option} ${p}: unknown extension '${ext}' (use ${extensions.join(', ')})`);
  }
  checkNames(p, option);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(p);
  } catch {
    /* does not exist yet */
  }
  if (st?.isDirectory()) throw new Error(`${option} ${p}: is a folder; give a file name`);
  checkWritableAncestor(path.dirname(path.resolve(p)), option, p);
}

/**
 * A raw Node file-system error (`ENOTDIR: not a directory, mkdir '/x/y'`) as one line naming the
 * path and the reason; other errors are returned unchanged.
 * @example explainFsError(e) // Error('/x/y: a part of the path is a file, not a folder (ENOTDIR)')
 */
export function explainFsError(e: unknown): unknown {
  const err = e as NodeJS.ErrnoException & { dest?: string };
  if (!(err instanceof Error) || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code) || !err.syscall) return e;
  const p = err.path ? (err.dest ? `${err.path} -> ${err.dest}` : err.path) : err.syscall;
  return new Error(`${p}: ${reasonOf(err.code)} (${err.code} in ${err.syscall})`, { cause: e });
}
