/**
 * mmdRatio / mmdRbfBiased: the V-statistic against the closed form on tiny sets (Gretton et al. 2012, eq. 5), and the
 * ratio's meaning: ~1 for fresh data, >> 1 for a shifted copy, invariant to the order of the points.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { mmdRatio, mmdRbfBiased } from '../../src/eval/metrics/mmd_ratio.ts';
import { medianSqDistance } from '../../src/eval/metrics/mmd.ts';
import { toy2d } from '../../src/data/toy2d.ts';

test('biased MMD^2 equals the closed form on two tiny sets', () => {
  const x = new NDArray([2, 2], Float32Array.from([0, 0, 1, 0]));
  const y = new NDArray([1, 2], Float32Array.from([0, 2]));
  const h = 1.5;
  const k = (d2: number) => Math.exp(-d2 / (2 * h));
  // all pairs, diagonal included: mean k(x, x') + mean k(y, y') - 2 mean k(x, y)
  const kxx = (2 * k(0) + 2 * k(1)) / 4,
    kyy = 1,
    kxy = (k(4) + k(5)) / 2;
  assert.ok(Math.abs(mmdRbfBiased(x, y, h) - (kxx + kyy - 2 * kxy)) < 1e-12);
  assert.throws(() => mmdRbfBiased(x, y, 0), /bandwidth must be > 0, got 0/);
});

test('ratio ~1 for fresh data, large for a shifted copy; the kernel is 1/16 of the median distance', () => {
  const ds = toy2d('8gaussians');
  const draw = (s: number) => ds.sample(250, new Philox(s));
  const ref = draw(1),
    floors = [draw(2), draw(3), draw(4)];
  const fresh = mmdRatio(draw(5), ref, floors);
  assert.ok(fresh.ratio > 0.7 && fresh.ratio < 1.4, `fresh data ratio ${fresh.ratio}`);
  const shifted = mmdRatio(
    draw(5).map((v) => v + 0.5),
    ref,
    floors,
  );
  assert.ok(shifted.ratio > 3, `shifted ratio ${shifted.ratio}`);
  assert.ok(Math.abs(fresh.bandwidthSq - medianSqDistance(ref, ref) / 256) < 1e-9);
  const wide = mmdRatio(draw(5), ref, floors, { lengthScale: 1 });
  assert.ok(Math.abs(wide.bandwidthSq - medianSqDistance(ref, ref)) < 1e-9);
  // reversing the sample order changes nothing
  const s = draw(5),
    rev = new NDArray([250, 2]);
  for (let i = 0; i < 250; i++) rev.data.set(s.data.subarray(2 * (249 - i), 2 * (250 - i)), 2 * i);
  assert.ok(Math.abs(mmdRatio(s, ref, floors).mmd2 - mmdRatio(rev, ref, floors).mmd2) < 1e-9);
  assert.throws(() => mmdRatio(s, ref, []), /need at least one fresh data set/);
});
