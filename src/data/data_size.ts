/**
 * What a data spec will cost before it is loaded: the shape of one sample and an estimate of the
 * bytes loading takes, from headers only (a CSV's first lines and file size, the number of image
 * files and the requested image size). Lets the CLI refuse a 1M-column CSV or a 4096-pixel image
 * folder with one line instead of being killed while reading it.
 *
 * - CSV: cells = columns (first record) x rows (file size / length of the first data line); the
 *   parser keeps the text, one string per cell (~48 bytes) and three float32 copies (raw,
 *   standardised, batches).
 * - Image folder: files x channels x size^2 x float32 x 3 (decoded, resized, data set), plus the
 *   file bytes of the largest image.
 * - Toy sets and MNIST: small and fixed.
 *
 * Returns null when the spec cannot be inspected (missing file, ...): the loader then reports it.
 *
 * @example
 *   const d = inspectDataSource('big.csv', {});
 *   d?.bytes // estimated bytes to load; d?.sampleShape // [columns]
 */
import fs from 'node:fs';
import path from 'node:path';
import { TOY2D_NAMES } from './toy2d.ts';

export interface DataSizeEstimate {
  /** Shape of one sample (no batch axis). */
  sampleShape: number[];
  /** Number of items (rows, images), estimated for CSVs. */
  items: number;
  /** Estimated bytes to load and hold the data set. */
  bytes: number;
  /** A short description for messages: "about 12 rows x 1000000 columns". */
  what: string;
}

export interface InspectOptions {
  imageSize?: number;
  channels?: number;
  window?: number;
  limit?: number;
}

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

/** Read at most `max` bytes from the start of a file, stopping after `lines` newlines. */
function headLines(file: string, lines: number, max = 256 * 2 ** 20): string {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 20);
    let total = 0,
      found = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      const part = Buffer.from(buf.subarray(0, n));
      chunks.push(part);
      total += n;
      for (let i = 0; i < n; i++) if (part[i] === 10) found++;
      if (found >= lines || total >= max) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

function csvSize(file: string, o: InspectOptions, series: boolean): DataSizeEstimate {
  const size = fs.statSync(file).size;
  const head = headLines(file, 3);
  const records = head.split(/\r?\n/).filter((l) => l.trim() !== '');
  const first = records[0] ?? '';
  const columns = first.split(',').length; // quoted commas only make this an over-estimate
  const isHeader = first
    .split(',')
    .some((c) => !/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(c) && !/^\s*[+-]?(nan|inf|infinity)\s*$/i.test(c));
  const dataLine = (isHeader ? records[1] : records[0]) ?? first;
  const rows = Math.max(1, Math.round((size - (isHeader ? first.length + 1 : 0)) / Math.max(1, dataLine.length + 1)));
  const cells = rows * columns;
  const bytes = 2 * size + 48 * cells + 3 * 4 * cells;
  if (series) {
    const w = o.window ?? 32;
    return {
      sampleShape: [w],
      items: rows,
      bytes: bytes + 4 * w * rows,
      what: `about ${rows.toLocaleString('en')} rows`,
    };
  }
  const kept = o.limit ? Math.min(o.limit, rows) : rows;
  return {
    sampleShape: [columns],
    items: kept,
    bytes,
    what: `about ${rows.toLocaleString('en')} rows x ${columns.toLocaleString('en')} columns`,
  };
}

function countImages(dir: string): { files: number; largest: number } {
  let files = 0,
    largest = 0;
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) {
        files++;
        try {
          largest = Math.max(largest, fs.statSync(path.join(dir, r)).size);
        } catch {
          /* reported by the loader */
        }
      }
    }
  };
  walk('');
  return { files, largest };
}

/**
 * The sample shape and estimated loading bytes of a data spec (see the file comment); null when it
 * cannot be inspected.
 * @example inspectDataSource('moons', {})?.sampleShape // [2]
 */
export function inspectDataSource(spec: string, o: InspectOptions = {}): DataSizeEstimate | null {
  try {
    if ((TOY2D_NAMES as readonly string[]).includes(spec))
      return { sampleShape: [2], items: 0, bytes: 0, what: 'a toy set' };
    if (spec === 'mnist') {
      const n = o.limit ? Math.min(o.limit, 60000) : 60000;
      return { sampleShape: [1, 28, 28], items: n, bytes: 3 * 4 * 784 * n, what: `${n} MNIST images` };
    }
    if (spec.startsWith('series:')) return csvSize(spec.slice('series:'.length), o, true);
    const st = fs.statSync(spec);
    if (st.isDirectory()) {
      const side = o.imageSize ?? 28,
        ch = o.channels ?? 1;
      const { files, largest } = countImages(spec);
      const n = o.limit ? Math.min(o.limit, files) : files;
      return {
        sampleShape: [ch, side, side],
        items: n,
        bytes: 3 * 4 * ch * side * side * n + 2 * largest,
        what: `${n} images of ${ch} x ${side} x ${side}`,
      };
    }
    if (path.extname(spec).toLowerCase() === '.csv') return csvSize(spec, o, false);
    return null;
  } catch {
    return null;
  }
}
