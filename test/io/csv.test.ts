import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { Philox } from '../../src/engine/rng.ts';
import { CsvError, formatCsv, formatFloat32, parseCsv, readCsv, writeCsv } from '../../src/io/csv.ts';

test('header auto-detection, quoting (RFC 4180), CRLF, BOM, blank lines, spaces', () => {
  const t = parseCsv('\ufeff"x, left",y\r\n 1.5 ,-2e-1\r\n\r\n"3",.25\r\n');
  assert.deepEqual(t.columns, ['x, left', 'y']);
  assert.deepEqual(t.data.shape, [2, 2]);
  assert.deepEqual(t.data.toArray(), [1.5, -0.2, 3, 0.25].map(Math.fround));
  const n = parseCsv('1,2\n3,4');
  assert.equal(n.columns, null);
  assert.deepEqual(n.data.toArray(), [1, 2, 3, 4]);
  assert.deepEqual(parseCsv('a;b\n1;2\n', { delimiter: ';' }).data.toArray(), [1, 2]);
  assert.deepEqual(parseCsv('"a ""q"""\n1\n').columns, ['a "q"']);
  assert.deepEqual(parseCsv('1,2\n3,4\n', { header: true }).columns, ['1', '2']);
});

test('column selection by name or index', () => {
  const text = 'a,b,c\n1,2,3\n4,5,6\n';
  assert.deepEqual(parseCsv(text, { columns: ['c', 'a'] }).data.toArray(), [3, 1, 6, 4]);
  assert.deepEqual(parseCsv(text, { columns: ['c', 'a'] }).columns, ['c', 'a']);
  assert.deepEqual(parseCsv(text, { columns: [1] }).data.toArray(), [2, 5]);
  assert.throws(() => parseCsv(text, { columns: ['d'] }), /no column named "d" \(columns: "a", "b", "c"\)/);
  assert.throws(() => parseCsv('1,2\n', { columns: ['a'] }), /selected by name, but the file has no header/);
  assert.throws(
    () => parseCsv(text, { columns: [3] }),
    /column index 3 is out of range \(the table has 3 columns, 0\.\.2\)/,
  );
});

test('errors name the source, line, column and header name', () => {
  const bad = (text: string, re: RegExp, opts = {}) =>
    assert.throws(
      () => parseCsv(text, { source: 'data.csv', ...opts }),
      (e: unknown) => (e instanceof CsvError && re.test(e.message) ? true : assert.fail(String(e))),
    );
  bad('x1,x2,x3\n1,2,3\n\n4,5,abc\n', /^data\.csv line 4, column 3 \("x3"\): "abc" is not a number$/);
  bad('x,y\n1,\n', /^data\.csv line 2, column 2 \("y"\): empty cell$/);
  bad('x,y\n1,2\n3\n', /^data\.csv line 3: row has 1 cells, the header \(line 1\) has 2$/);
  bad('1,2\n3,4,5\n', /line 2: row has 3 cells, the first row \(line 1\) has 2/);
  bad('x\n"1\n2\n', /^data\.csv line 2, column 1: unterminated quoted field$/);
  bad('x\n"1"a\n', /line 2, column 1: unexpected "a" after a closing quote/);
  bad('x,y\n1,nan\n', /line 2, column 2 \("y"\): non-finite value "nan" is not allowed \(cells must be finite numbers/);
  bad('', /^data\.csv: the file has no rows$/);
  bad('x,x\n1,2\n', /line 1, column 2: duplicate column name "x" \(also column 1\)/);
  const ok = parseCsv('x,y\n1,nan\n-inf,Infinity\n', { allowNonFinite: true }).data.toArray();
  assert.ok(Number.isNaN(ok[1]) && ok[2] === -Infinity && ok[3] === Infinity);
  assert.throws(
    () => readCsv('/nonexistent/dir/x.csv'),
    /^CsvError: \/nonexistent\/dir\/x\.csv: cannot read file|\/nonexistent\/dir\/x\.csv: cannot read file/,
  );
  // quoted newlines advance the line counter
  bad('x\n"a\nb",\n1\n', /line 2/);
});

test('float32 formatting is the shortest string that reads back to the same float32', () => {
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
  assert.equal(formatFloat32(1), '1');
  assert.equal(formatFloat32(-0), '-0');
  assert.equal(formatFloat32(Math.fround(1 / 3)), '0.33333334');
  assert.equal(formatFloat32(3.4028234663852886e38), '3.4028235e+38');
  assert.equal(formatFloat32(NaN), 'nan');
  const x = new Philox(5).normal([2000]).map((v, i) => (i % 3 === 0 ? v * 1e-30 : i % 3 === 1 ? v * 1e20 : v));
  const back = parseCsv(formatCsv(x.reshape([1000, 2]))).data;
  assert.deepEqual(Array.from(back.data), Array.from(x.data));
});

test('writeCsv / readCsv round trip with header, atomically', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-'));
  const p = path.join(dir, 's.csv');
  const x = NDArray.from([
    [1.25, -3],
    [1e-8, 7],
  ]);
  writeCsv(p, x, { header: ['x', 'y,z'] });
  assert.equal(fs.readFileSync(p, 'utf8'), 'x,"y,z"\n1.25,-3\n1e-8,7\n');
  const t = readCsv(p);
  assert.deepEqual(t.columns, ['x', 'y,z']);
  assert.deepEqual(t.data.toArray(), x.toArray());
  assert.deepEqual(fs.readdirSync(dir), ['s.csv']);
  assert.throws(() => formatCsv(x, { header: ['a'] }), /header has 1 names, data has 2 columns/);
  fs.rmSync(dir, { recursive: true });
});
