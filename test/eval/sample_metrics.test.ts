import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { slicedWasserstein, wassersteinPow1d } from '../../src/eval/metrics/sliced_wasserstein.ts';
import { meanLogDensity } from '../../src/eval/metrics/log_density.ts';
import { toy2d } from '../../src/data/toy2d.ts';

test('1-D Wasserstein of empirical measures equals the quantile integral worked by hand', () => {
  // equal sizes: shift by 0.5 -> W_1 = W_2 = 0.5
  assert.equal(wassersteinPow1d(Float64Array.of(0, 1, 2), Float64Array.of(0.5, 1.5, 2.5), 1), 0.5);
  // n = 2 vs m = 3: F^-1 = 0 on [0, 1/2), 1 on [1/2, 1); G^-1 = 0, 1, 2 on thirds -> |diff| = 1 on [1/3, 1/2) and [2/3, 1)
  assert.ok(Math.abs(wassersteinPow1d(Float64Array.of(0, 1), Float64Array.of(0, 1, 2), 1) - 0.5) < 1e-15);
  assert.ok(Math.abs(wassersteinPow1d(Float64Array.of(0, 1), Float64Array.of(0, 1, 2), 2) - 0.5) < 1e-15);
  // p = 2 with distances 1 and 3 on halves: (1 + 9) / 2
  assert.ok(Math.abs(wassersteinPow1d(Float64Array.of(0, 0), Float64Array.of(1, 3), 2) - 5) < 1e-15);
});

test('sliced Wasserstein: 1-D data gives W_p exactly; a translation by c gives E|theta.c| = |c| 2/pi in 2-D', () => {
  const x = new NDArray([3, 1], [0, 1, 2]),
    y = new NDArray([3, 1], [0.5, 1.5, 2.5]);
  const r = slicedWasserstein(x, y, { projections: 4 });
  assert.ok(Math.abs(r.distance - 0.5) < 1e-12 && r.se! < 1e-12, `${r.distance}`);
  const pts = new Philox(1).normal([200, 2]);
  const c = [3, -4];
  const shifted = pts.map((v, i) => v + c[i % 2]);
  const sw1 = slicedWasserstein(pts, shifted, { projections: 4000, p: 1, seed: 2 });
  const want = (5 * 2) / Math.PI; // |c| E|cos U| = |c| 2/pi
  assert.ok(Math.abs(sw1.distance - want) < 4 * sw1.se!, `SW_1 ${sw1.distance} +- ${sw1.se} vs ${want}`);
  // SW_2^2 of a translation: E (theta.c)^2 = |c|^2 / 2
  const sw2 = slicedWasserstein(pts, shifted, { projections: 4000, p: 2, seed: 2 });
  assert.ok(Math.abs(sw2.distance - Math.sqrt(12.5)) < 4 * sw2.se!, `SW_2 ${sw2.distance} +- ${sw2.se}`);
  assert.equal(slicedWasserstein(pts, pts).distance, 0);
  assert.throws(() => slicedWasserstein(pts, x), /point dimensions differ \(x has 2, y has 1\)/);
  assert.throws(() => slicedWasserstein(pts, pts, { p: 0.5 }), /p = 0.5 must be a finite number >= 1/);
});

test('mean log-density of 8-gaussians data matches its entropy closed-form bounds', () => {
  // 8 well-separated components of std s: H ~ log 8 + log(2 pi e s^2) (no overlap), s = 0.5 / 1.414
  const ds = toy2d('8gaussians');
  const x = ds.sample(20000, new Philox(3));
  const r = meanLogDensity(x, (p) => ds.logDensity!(p));
  const s = 0.5 / 1.414;
  const h = Math.log(8) + Math.log(2 * Math.PI * Math.E * s * s);
  assert.ok(Math.abs(-r.mean - h) < 4 * r.se!, `-E log p = ${-r.mean} +- ${r.se} vs ${h}`);
});
