/** The data | samples figure: two panels side by side, data in orange on the left, samples in blue on the right, a title. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/index.ts';
import { renderScatterComparison } from '../../src/eval/plots/scatter_compare.ts';

test('data left in orange, samples right in blue, title on top', () => {
  const pts = new NDArray([3, 2], Float32Array.from([0, 0, 1, 1, -1, 0.5]));
  const P = 100;
  const img = renderScatterComparison(pts, pts, { title: 'T', caption: 'C', panel: P, pointRadius: 3, alpha: 1 });
  const half = img.width / 2;
  let orangeLeft = 0,
    orangeRight = 0,
    blueLeft = 0,
    blueRight = 0,
    darkTop = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const o = 4 * (y * img.width + x),
        r = img.data[o],
        g = img.data[o + 1],
        b = img.data[o + 2];
      if (r === 255 && g === 127 && b === 14) {
        if (x < half) orangeLeft++;
        else orangeRight++;
      }
      if (r === 31 && g === 119 && b === 180) {
        if (x < half) blueLeft++;
        else blueRight++;
      }
      if (y < 20 && r < 100 && g < 100 && b < 100) darkTop++;
    }
  }
  assert.ok(orangeLeft > 20 && blueRight > 20, `orange left ${orangeLeft}, blue right ${blueRight}`);
  // the right panel's label is blue text; no orange dots there, no blue dots on the left
  assert.equal(orangeRight, 0);
  assert.ok(blueLeft === 0, `blue on the left: ${blueLeft}`);
  assert.ok(darkTop > 0, 'title drawn');
  assert.ok(img.width > 2 * P && img.height > P);
  assert.throws(() => renderScatterComparison(pts, pts, { panel: 10 }), /panel = 10 must be an integer in 64..4096/);
});
