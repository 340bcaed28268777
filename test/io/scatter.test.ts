import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { readImage } from '../../src/io/png.ts';
import { niceTicks, renderScatter, scatterTrajectoryFrames, writeScatterPng } from '../../src/io/scatter.ts';

const px = (img: { width: number; data: Uint8Array }, x: number, y: number) => [
  ...img.data.subarray(4 * (y * img.width + x), 4 * (y * img.width + x) + 3),
];

test('points land where the pixel mapping says (y up), in their colours, over a white background', () => {
  const pts = NDArray.from([
    [0, 0],
    [1, 1],
    [-1, -1],
  ]);
  const ref = NDArray.from([[1, -1]]);
  const img = renderScatter(pts, {
    width: 101,
    height: 101,
    margin: 10,
    bounds: [-1, 1, -1, 1],
    reference: ref,
    alpha: 1,
    pointRadius: 1,
  });
  // plot area 81 x 81 from (10,10): x=-1 -> 10, x=1 -> 90, y=1 -> 10, y=-1 -> 90
  const blue = [31, 119, 180],
    orange = [255, 127, 14];
  assert.deepEqual(px(img, 50, 50), blue);
  assert.deepEqual(px(img, 90, 10), blue);
  assert.deepEqual(px(img, 10, 90), blue);
  assert.deepEqual(px(img, 90, 90), orange);
  assert.deepEqual(px(img, 30, 70), [255, 255, 255]);
  assert.deepEqual(px(img, 9, 40), [60, 60, 60], 'axes box');
  assert.deepEqual(px(img, 50, 30), [220, 220, 220], 'zero line x = 0');
  assert.equal(img.skipped, 0);
});

test('auto bounds cover the data with equal aspect; non-finite points are skipped and counted', () => {
  const pts = NDArray.from([
    [0, 0],
    [4, 1],
    [NaN, 2],
    [1, Infinity],
  ]);
  const img = renderScatter(pts, { width: 200, height: 200 });
  const [x0, x1, y0, y1] = img.bounds;
  assert.ok(x0 < 0 && x1 > 4 && y0 < 0 && y1 > 1);
  assert.ok(Math.abs(x1 - x0 - (y1 - y0)) < 1e-9, 'square image -> equal spans');
  assert.equal(img.skipped, 2);
});

test('niceTicks: 1-2-5 steps', () => {
  assert.deepEqual(niceTicks(-1, 1), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(1, 1), []);
});

test('writeScatterPng writes a PNG of the requested size; bad input is named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-'));
  const p = path.join(dir, 's.png');
  writeScatterPng(
    p,
    NDArray.from([
      [0, 1],
      [2, 3],
    ]),
    { width: 120, height: 80 },
  );
  const { width, height } = readImage(p);
  assert.deepEqual([width, height], [120, 80]);
  assert.throws(() => renderScatter(NDArray.zeros([3, 3])), /points shape \[3, 3\] is not \[N, 2\]/);
  assert.throws(() => renderScatter(NDArray.zeros([3, 2]), { bounds: [1, 0, 0, 1] }), /bounds \[1, 0, 0, 1\]/);
  fs.rmSync(dir, { recursive: true });
});

test('trajectory frames share the bounds of the last step', () => {
  const steps = [
    NDArray.from([
      [-50, 40],
      [30, -20],
    ]),
    NDArray.from([
      [0, 0],
      [1, 1],
    ]),
  ];
  const frames = scatterTrajectoryFrames(steps, { width: 64, height: 64, margin: 4 });
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0].bounds, frames[1].bounds);
  assert.ok(frames[1].bounds[1] < 2, 'bounds fit the final samples, not the initial noise');
  assert.throws(() => scatterTrajectoryFrames([]), /no steps/);
});
