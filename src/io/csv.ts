/**
 * Numeric CSV read/write (RFC 4180 syntax: comma-separated fields, CRLF or LF records, fields may
 * be double-quoted with "" as an escaped quote). Every data cell must be a number; errors name the
 * file, line and column: `data.csv line 7, column 3 ("x2"): "abc" is not a number`.
 *
 * Numbers: decimal or scientific notation (`-1.5e-3`), surrounding spaces allowed. `nan`, `inf`,
 * `-inf`, `Infinity` (any case) only with `allowNonFinite`. Empty lines are skipped; a UTF-8 BOM is
 * ignored. Header: `header: 'auto'` (default) treats the first record as a header when any of its
 * cells is not a number.
 *
 * Writing uses the shortest decimal that reads back to the same float32, so write -> read is exact.
 *
 * @example
 *   const { columns, data } = readCsv('points.csv');        // data: NDArray [rows, cols]
 *   writeCsv('samples.csv', samples, { header: ['x', 'y'] });
 */
import * as fs from 'node:fs';
import { NDArray } from '../engine/ndarray.ts';
import { writeFileAtomicSync } from './atomic.ts';

/** A CSV error with its location (1-based line and column; 0 when not about one cell). */
export class CsvError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    detail: string,
    readonly columnName?: string,
  ) {
    super(
      `${source}${line ? ` line ${line}` : ''}${column ? `, column ${column}` : ''}${columnName !== undefined ? ` (${JSON.stringify(columnName)})` : ''}: ${detail}`,
    );
    this.name = 'CsvError';
  }
}

export interface CsvReadOptions {
  /** true: first record is a header; false: no header; 'auto' (default): header if any first-row cell is not a number. */
  header?: boolean | 'auto';
  /** Field separator, one character (default ','). */
  delimiter?: string;
  /** Name used in error messages (default 'csv'; readCsv uses the path). */
  source?: string;
  /** Accept nan / inf / -inf cells (default false). */
  allowNonFinite?: boolean;
  /** Keep only these columns, by header name or 0-based index, in this order. */
  columns?: readonly (string | number)[];
}

/** A parsed numeric table. */
export interface CsvTable {
  /** Header names (of the kept columns), or null when the file has no header. */
  columns: string[] | null;
  /** Values, shape [rows, cols] (float32). */
  data: NDArray;
}

interface RawRecord {
  line: number;
  cells: string[];
}

/** Splits text into records of raw cells, tracking the physical line where each record starts. */
function splitRecords(text: string, delimiter: string, source: string): RawRecord[] {
  const out: RawRecord[] = [];
  let i = 0,
    line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  while (i < n) {
    const startLine = line;
    const cells: string[] = [];
    let cell = '';
    let inRecord = true;
    while (inRecord) {
      if (text[i] === '"') {
        // quoted field
        const qLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError(source, qLine, cells.length + 1, 'unterminated quoted field');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          cell += c;
          i++;
        }
        // after the closing quote: spaces, then a delimiter or the end of the record
        while (text[i] === ' ' || text[i] === '\t') i++;
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          throw new CsvError(
            source,
            line,
            cells.length + 1,
            `unexpected ${JSON.stringify(text[i])} after a closing quote`,
          );
        }
      } else {
        let j = i;
        while (j < n && text[j] !== delimiter && text[j] !== '\n' && text[j] !== '\r') j++;
        cell += text.slice(i, j);
        i = j;
      }
      cells.push(cell);
      cell = '';
      if (i >= n) {
        inRecord = false;
      } else if (text[i] === delimiter) {
        i++;
      } else {
        // newline: \n, \r\n or \r
        if (text[i] === '\r' && text[i + 1] === '\n') i++;
        i++;
        line++;
        inRecord = false;
      }
    }
    if (!(cells.length === 1 && cells[0].trim() === '')) out.push({ line: startLine, cells });
  }
  return out;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NONFINITE_RE = /^([+-]?)(nan|inf|infinity)$/i;

/** Parses one cell: a number, a non-finite spelling (returned as NaN/±Infinity with `nonFinite`), or undefined. */
function parseCell(raw: string): { value: number; nonFinite: boolean } | undefined {
  const s = raw.trim();
  if (NUMBER_RE.test(s)) return { value: Number(s), nonFinite: false };
  const m = NONFINITE_RE.exec(s);
  if (m) return { value: m[2].toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity, nonFinite: true };
  return undefined;
}

/**
 * Parses CSV text into a numeric table.
 * @example parseCsv('x,y\n1,2\n3,4\n').data.toArray() // [1, 2, 3, 4]
 */
export function parseCsv(text: string, options: CsvReadOptions = {}): CsvTable {
  const source = options.source ?? 'csv';
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new Error(
      `parseCsv: delimiter = ${JSON.stringify(delimiter)} must be one character other than a quote or newline`,
    );
  }
  const headerOpt = options.header ?? 'auto';
  if (headerOpt !== true && headerOpt !== false && headerOpt !== 'auto') {
    throw new Error(`parseCsv: header = ${JSON.stringify(headerOpt)} is not allowed (allowed: true, false, "auto")`);
  }
  const records = splitRecords(text, delimiter, source);
  if (records.length === 0) throw new CsvError(source, 0, 0, 'the file has no rows');
  // 'auto': the first row is a header when one of its cells is not a number
  const hasHeader = headerOpt === 'auto' ? records[0].cells.some((c) => parseCell(c) === undefined) : headerOpt;
  const header = hasHeader ? headerRow(records[0], source) : null;
  const headerLine = hasHeader ? records[0].line : 0;
  const body = hasHeader ? records.slice(1) : records;
  const width = header ? header.length : (body[0]?.cells.length ?? 0);
  const keep = selectedColumns(options.columns, header, width, source);
  const data = new NDArray([body.length, keep.length]);
  const allowNonFinite = options.allowNonFinite ?? false;
  body.forEach((rec, r) => {
    if (rec.cells.length !== width) {
      const what = header
        ? `the header (line ${headerLine}) has ${width}`
        : `the first row (line ${body[0].line}) has ${width}`;
      throw new CsvError(source, rec.line, 0, `row has ${rec.cells.length} cells, ${what}`);
    }
    keep.forEach((j, k) => {
      data.data[r * keep.length + k] = cellValue(rec, j, { source, allowNonFinite, column: header?.[j] });
    });
  });
  return { columns: header ? keep.map((j) => header[j]) : null, data };
}

/** The column names of a header row (trimmed); a name used twice is an error naming both columns. */
function headerRow(rec: RawRecord, source: string): string[] {
  const header = rec.cells.map((c) => c.trim());
  const seen = new Map<string, number>();
  header.forEach((h, j) => {
    if (seen.has(h))
      throw new CsvError(
        source,
        rec.line,
        j + 1,
        `duplicate column name ${JSON.stringify(h)} (also column ${seen.get(h)! + 1})`,
      );
    seen.set(h, j);
  });
  return header;
}

/** 0-based indices of the selected columns (by index, or by name with a header row); all columns by default. */
function selectedColumns(
  columns: CsvReadOptions['columns'],
  header: string[] | null,
  width: number,
  source: string,
): number[] {
  if (!columns) return Array.from({ length: width }, (_, j) => j);
  return columns.map((c) => {
    if (typeof c === 'number') {
      if (!Number.isInteger(c) || c < 0 || c >= width)
        throw new CsvError(
          source,
          0,
          0,
          `column index ${c} is out of range (the table has ${width} columns, 0..${width - 1})`,
        );
      return c;
    }
    if (!header)
      throw new CsvError(
        source,
        0,
        0,
        `column ${JSON.stringify(c)} selected by name, but the file has no header row (select by 0-based index instead)`,
      );
    const j = header.indexOf(c);
    if (j < 0)
      throw new CsvError(
        source,
        0,
        0,
        `no column named ${JSON.stringify(c)} (columns: ${header.map((h) => JSON.stringify(h)).join(', ')})`,
      );
    return j;
  });
}

/**
 * The number in cell j of a record: an error (naming line, column and column name) for a cell that is empty or
 * not a number, non-finite (unless allowed) or beyond the float32 range.
 */
function cellValue(rec: RawRecord, j: number, o: { source: string; allowNonFinite: boolean; column?: string }): number {
  const raw = rec.cells[j];
  const v = parseCell(raw);
  const fail = (why: string) => new CsvError(o.source, rec.line, j + 1, why, o.column);
  if (v === undefined) throw fail(raw.trim() === '' ? 'empty cell' : `${JSON.stringify(raw)} is not a number`);
  if (v.nonFinite && !o.allowNonFinite) {
    throw fail(
      `non-finite value ${JSON.stringify(raw.trim())} is not allowed (cells must be finite numbers; fix or remove this row)`,
    );
  }
  if (!v.nonFinite && !Number.isFinite(Math.fround(v.value)))
    throw fail(`${JSON.stringify(raw.trim())} is beyond the float32 range (magnitudes up to 3.4028235e38 are allowed)`);
  return v.value;
}

/**
 * Reads a numeric CSV file; errors name the file, line and column.
 * @example const { data } = readCsv('data/iris.csv', { columns: ['sepal_length', 'petal_width'] });
 */
export function readCsv(path: string, options: Omit<CsvReadOptions, 'source'> = {}): CsvTable {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new CsvError(path, 0, 0, `cannot read file: ${(e as Error).message}`);
  }
  return parseCsv(text, { ...options, source: path });
}

/**
 * Shortest decimal string that reads back (via float32 rounding) as the same float32 value;
 * non-finite values as nan / inf / -inf.
 * @example formatFloat32(Math.fround(0.1)) // '0.1'
 */
export function formatFloat32(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  const f = Math.fround(v);
  if (Object.is(f, -0)) return '-0';
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(f);
}

function quoteIfNeeded(s: string): string {
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * CSV text of a [rows, cols] (or [rows]) array, with an optional header row. Lines end with '\n'.
 * @example formatCsv(NDArray.from([[1, 2], [3, 4]]), { header: ['x', 'y'] }) // 'x,y\n1,2\n3,4\n'
 */
export function formatCsv(data: NDArray, options: { header?: readonly string[] } = {}): string {
  if (data.ndim !== 1 && data.ndim !== 2)
    throw new Error(`formatCsv: data shape [${data.shape.join(', ')}] is not [rows, cols] or [rows]`);
  const [rows, cols] = data.ndim === 2 ? data.shape : [data.shape[0], 1];
  const lines: string[] = [];
  if (options.header) {
    if (options.header.length !== cols)
      throw new Error(`formatCsv: header has ${options.header.length} names, data has ${cols} columns`);
    lines.push(options.header.map(quoteIfNeeded).join(','));
  }
  const d = data.data;
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < cols; c++) cells.push(formatFloat32(d[r * cols + c]));
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes a numeric CSV file atomically.
 * @example writeCsv('out/samples.csv', samples, { header: ['x', 'y'] });
 */
export function writeCsv(path: string, data: NDArray, options: { header?: readonly string[] } = {}): void {
  writeFileAtomicSync(path, formatCsv(data, options));
}
