/**
 * A CSV file written piece by piece (any number of rows in bounded memory) and still atomically:
 * rows go to a temporary file beside the target (`.<name>.<WRITER_TAG>.<n>.tmp`, the atomic writers'
 * naming, shortened to fit 255 bytes), which is fsynced and renamed over the target by `commit()`.
 * Until then the target is untouched. `abort()` removes the temporary; so does an interrupt
 * (SIGINT, SIGTERM, SIGHUP: the process then exits with 128 + the signal's number, running the
 * other exit handlers) or an exit while the writer is open, so a stopped `diffuse sample` leaves no
 * hidden file behind (only a SIGKILL can, and the name carries this process's tag).
 *
 * @example
 *   const w = new CsvStreamWriter('samples.csv', ['x', 'y']);
 *   w.append(chunk1); w.append(chunk2);   // NDArray [rows, 2]
 *   w.commit();
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NDArray } from '../engine/ndarray.ts';
import { WRITER_TAG, fitTempBase, fsyncDirSync } from './atomic.ts';
import { formatCsv } from './csv.ts';

const open = new Set<CsvStreamWriter>();
let handlersInstalled = false;

function removeOpenTemporaries(): void {
  for (const w of [...open]) w.abort();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', removeOpenTemporaries);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      removeOpenTemporaries();
      // Exit as the signal would (128 + its number), through process.exit so that the other exit
      // handlers (e.g. releasing an output lock) run too.
      process.exit(128 + (os.constants.signals[sig] ?? 0));
    });
  }
}

let counter = 0;

/** A streaming, atomic CSV writer; see the file comment. */
export class CsvStreamWriter {
  readonly target: string;
  readonly tempPath: string;
  private fd: number | null;
  private columns: number | null;
  rows = 0;

  constructor(target: string, header?: readonly string[]) {
    this.target = target;
    let fd: number | null = null,
      tmp = '';
    for (let attempt = 0; fd === null; attempt++) {
      const suffix = `.${WRITER_TAG}.${1_000_000 + counter++}.tmp`;
      tmp = path.join(path.dirname(target), `.${fitTempBase(path.basename(target), suffix)}${suffix}`);
      try {
        fd = fs.openSync(tmp, 'wx', 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1000)
          throw new Error(`cannot write ${target}: ${(e as Error).message}`, { cause: e });
      }
    }
    this.fd = fd;
    this.tempPath = tmp;
    this.columns = header ? header.length : null;
    installHandlers();
    open.add(this);
    if (header) this.write(formatCsv(new NDArray([0, header.length]), { header }));
  }

  private write(text: string): void {
    if (this.fd === null) throw new Error(`${this.target}: the writer is closed`);
    const bytes = Buffer.from(text, 'utf8');
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (e) {
      this.abort();
      throw new Error(`cannot write ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Append rows [n, cols] (or [n]). */
  append(rows: NDArray): void {
    const cols = rows.ndim === 2 ? rows.shape[1] : 1;
    if (this.columns !== null && cols !== this.columns)
      throw new Error(`${this.target}: ${cols} columns, the file has ${this.columns}`);
    this.columns = cols;
    this.write(formatCsv(rows));
    this.rows += rows.shape[0];
  }

  /** fsync, rename over the target, fsync the folder. */
  commit(): void {
    if (this.fd === null) throw new Error(`${this.target}: the writer is closed`);
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
      fs.renameSync(this.tempPath, this.target);
    } catch (e) {
      this.abort();
      throw new Error(`cannot write ${this.target}: ${(e as Error).message}`, { cause: e });
    }
    open.delete(this);
    fsyncDirSync(path.dirname(path.resolve(this.target)));
  }

  /** Close and remove the temporary file; the target is untouched. Safe to call twice. */
  abort(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* closing anyway */
      }
      this.fd = null;
    }
    if (open.delete(this)) {
      try {
        fs.unlinkSync(this.tempPath);
      } catch {
        /* already gone */
      }
    }
  }
}
