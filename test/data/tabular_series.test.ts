import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { StandardScaler } from '../../src/data/standardize.ts';
import { loadTabular, tabularFromArray } from '../../src/data/tabular.ts';
import { loadSeries, seriesFromArray, seriesWindows } from '../../src/data/series.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tab-'));

test('StandardScaler: population mean/std per column (sklearn StandardScaler), zero-variance columns get scale 1', () => {
  // column a = [1, 2, 3, 4]: mean 2.5, std sqrt(1.25); column b constant 7: std 0 -> 1
  const x = NDArray.from([
    [1, 7],
    [2, 7],
    [3, 7],
    [4, 7],
  ]);
  const s = StandardScaler.fit(x, ['a', 'b']);
  assert.deepEqual(Array.from(s.mean), [2.5, 7]);
  assert.deepEqual(Array.from(s.std), [Math.sqrt(1.25), 1]);
  const z = s.transform(x);
  assert.deepEqual(
    z.toArray(),
    [-1.5, 0, -0.5, 0, 0.5, 0, 1.5, 0].map((v, i) => Math.fround(i % 2 ? v : v / Math.sqrt(1.25))),
  );
  const back = s.inverse(z);
  back.data.forEach((v, i) => assert.ok(Math.abs(v - x.data[i]) < 1e-6));
  const rt = StandardScaler.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));
  assert.deepEqual(rt.transform(x).data, z.data);
  assert.throws(() => StandardScaler.fit(NDArray.from([[1], [NaN]])), /row index 1 \(0-based\), column index 0 is NaN/);
  assert.throws(() => StandardScaler.fromJSON({ mean: [0], std: [0] }), /std\[0\] = 0 must be a finite number > 0/);
  assert.throws(() => s.transform(NDArray.zeros([2, 3])), /does not end in 2 columns/);
});

test('loadTabular: CSV columns standardised, raw kept, column selection, errors name the cell', () => {
  const dir = tmp();
  const p = path.join(dir, 't.csv');
  fs.writeFileSync(p, 'a,b,c\n1,10,5\n3,30,5\n');
  const t = loadTabular(p);
  assert.deepEqual(t.columns, ['a', 'b', 'c']);
  assert.deepEqual(t.data.toArray(), [-1, -1, 0, 1, 1, 0]);
  assert.deepEqual(t.raw.toArray(), [1, 10, 5, 3, 30, 5]);
  assert.deepEqual(loadTabular(p, { columns: ['b'] }).data.shape, [2, 1]);
  assert.deepEqual(loadTabular(p, { standardize: false }).data.toArray(), [1, 10, 5, 3, 30, 5]);
  fs.writeFileSync(p, 'a,b\n1,2\n3,x\n');
  assert.throws(() => loadTabular(p), /t\.csv line 3, column 2 \("b"\): "x" is not a number/);
  fs.writeFileSync(p, 'a,b\n');
  assert.throws(() => loadTabular(p), /has a header but no data rows/);
  assert.deepEqual(tabularFromArray(NDArray.from([[0], [2]])).columns, ['0']);
  fs.rmSync(dir, { recursive: true });
});

test('seriesWindows follows torch.Tensor.unfold(0, window, stride)', () => {
  // unfold: count = floor((L - window) / stride) + 1, window i = x[i*stride : i*stride + window]
  assert.deepEqual(seriesWindows([1, 2, 3, 4, 5], { window: 3, stride: 2 }).toArray(), [1, 2, 3, 3, 4, 5]);
  assert.deepEqual(seriesWindows([1, 2, 3, 4, 5, 6], { window: 3, stride: 2 }).shape, [2, 3]);
  assert.deepEqual(seriesWindows([1, 2, 3], { window: 3 }).shape, [1, 3]);
  assert.deepEqual(seriesWindows(NDArray.arange(10), { window: 4 }).shape, [7, 4]);
  assert.throws(() => seriesWindows([1, 2], { window: 3 }), /2 values, shorter than one window of 3/);
  assert.throws(() => seriesWindows([1, 2], { window: 1, stride: 0 }), /stride = 0/);
});

test('series: standardised with the series mean/std; loadSeries picks the column; inverse maps back', () => {
  const s = seriesFromArray([1, 2, 3, 4], { window: 2, stride: 2 });
  assert.equal(s.scaler.mean, 2.5);
  assert.equal(s.scaler.std, Math.sqrt(1.25));
  assert.deepEqual(
    s.scaler
      .inverse(s.windows)
      .toArray()
      .map((v) => Math.round(v * 1e5) / 1e5),
    [1, 2, 3, 4],
  );
  const dir = tmp();
  const p = path.join(dir, 's.csv');
  fs.writeFileSync(p, 't,v\n0,5\n1,6\n2,7\n3,8\n');
  assert.throws(
    () => loadSeries(p, { window: 2 }),
    /the file has 2 columns \("t", "v"\); choose one with the column option/,
  );
  const l = loadSeries(p, { column: 'v', window: 3, standardize: false });
  assert.deepEqual(l.windows.toArray(), [5, 6, 7, 6, 7, 8]);
  fs.rmSync(dir, { recursive: true });
});
