import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTick, renderLinePlot, TAB10 } from '../../src/eval/plots/line_plot.ts';
import { drawText, textWidth } from '../../src/eval/plots/font5x7.ts';

function count(img: { data: Uint8Array }, c: readonly number[]): number {
  let k = 0;
  for (let i = 0; i < img.data.length; i += 4)
    if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) k++;
  return k;
}

test('line plot: each series is drawn in its colour, with a legend, labels and a dashed reference line', () => {
  const img = renderLinePlot({
    title: 'MMD vs NFE',
    xLabel: 'NFE',
    yLabel: 'MMD^2',
    series: [
      {
        name: 'ddpm',
        points: [
          { x: 5, y: 0.1, se: 0.01 },
          { x: 1000, y: 0.001 },
        ],
      },
      {
        name: 'heun',
        points: [
          { x: 9, y: 0.05 },
          { x: 39, y: 0.002 },
        ],
      },
    ],
    references: [{ name: 'data vs data', y: 0.0005, color: [200, 0, 200] }],
  });
  assert.equal(img.width, 800);
  assert.equal(img.data.length, 800 * 500 * 4);
  assert.ok(count(img, TAB10[0]) > 300, 'first series');
  assert.ok(count(img, TAB10[1]) > 300, 'second series');
  assert.ok(count(img, [200, 0, 200]) > 100, 'reference');
  assert.ok(count(img, [50, 50, 50]) > 1000, 'axes and text');
  assert.throws(() => renderLinePlot({ series: [], width: 10 }), /width 10 x height 500 must be integers/);
});

test('tick labels and the bitmap font', () => {
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(0.005), '0.005');
  assert.equal(formatTick(1000), '1000');
  assert.equal(formatTick(0.0002), '2E-4');
  assert.equal(textWidth('NFE', 2), 34);
  const img = new Uint8Array(40 * 10 * 4);
  drawText(img, 40, 1, 1, '1', [255, 0, 0]);
  let red = 0;
  for (let i = 0; i < img.length; i += 4) if (img[i] === 255) red++;
  assert.equal(red, 10); // the glyph '1' has 10 ink pixels
});
