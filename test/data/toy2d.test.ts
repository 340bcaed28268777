import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { Philox } from '../../src/engine/rng.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import {
  TOY2D_NAMES,
  checkerboard,
  circles,
  eightGaussians,
  gmm,
  moons,
  sampleToy2d,
  swissRoll,
  toy2d,
} from '../../src/data/toy2d.ts';

const N = 20000;
function mean(x: NDArray): [number, number] {
  let a = 0,
    b = 0;
  for (let i = 0; i < x.shape[0]; i++) {
    a += x.data[2 * i];
    b += x.data[2 * i + 1];
  }
  return [a / x.shape[0], b / x.shape[0]];
}
function variance(x: NDArray): [number, number] {
  const [m0, m1] = mean(x);
  let a = 0,
    b = 0;
  for (let i = 0; i < x.shape[0]; i++) {
    a += (x.data[2 * i] - m0) ** 2;
    b += (x.data[2 * i + 1] - m1) ** 2;
  }
  return [a / x.shape[0], b / x.shape[0]];
}

test('every data set: [n, 2], deterministic per seed, different across seeds, unknown names rejected', () => {
  for (const name of TOY2D_NAMES) {
    const a = sampleToy2d(name, 100, new Philox(1)),
      b = sampleToy2d(name, 100, new Philox(1)),
      c = sampleToy2d(name, 100, new Philox(2));
    assert.deepEqual(a.shape, [100, 2], name);
    assert.deepEqual(a.data, b.data, name);
    assert.notDeepEqual(a.data, c.data, name);
    assert.ok(a.data.every(Number.isFinite), name);
    assert.deepEqual(sampleToy2d(name, 0, new Philox(0)).shape, [0, 2]);
  }
  assert.throws(
    () => toy2d('spirals'),
    /unknown data set "spirals" \(allowed: moons, swissroll, 8gaussians, checkerboard, circles, gmm\)/,
  );
  assert.throws(() => sampleToy2d('moons', -1, new Philox(0)), /n = -1/);
  assert.throws(() => moons().sample(3, undefined as never), /RandomGenerator is required/);
  assert.throws(() => moons({ noise: -1 }), /moons noise = -1/);
});

test('moons: without noise every point is on its sklearn half circle; mean = (0, 0.3) (closed form)', () => {
  const x = moons({ noise: 0 }).sample(2000, new Philox(3));
  for (let i = 0; i < 2000; i++) {
    const u = (x.data[2 * i] + 1) / 2,
      v = (x.data[2 * i + 1] + 0.2) / 2; // undo FFJORD's x*2 + (-1, -0.2)
    const outer = Math.abs(u * u + v * v - 1) < 1e-5 && v >= -1e-6;
    const inner = Math.abs((u - 1) ** 2 + (v - 0.5) ** 2 - 1) < 1e-5 && v <= 0.5 + 1e-6;
    assert.ok(outer || inner, `point ${i} (${u}, ${v}) is on neither moon`);
  }
  // E over t ~ U[0, pi]: outer (0, 2/pi), inner (1, 1/2 - 2/pi) -> mixture (1/2, 1/4) -> scaled (0, 0.3)
  const m = mean(moons().sample(N, new Philox(4)));
  assert.ok(Math.abs(m[0]) < 0.03 && Math.abs(m[1] - 0.3) < 0.03, `mean ${m}`);
});

test('circles: radii 3 and 1.5 (x3 scaling, factor 0.5) in equal shares; centred', () => {
  const x = circles({ noise: 0 }).sample(N, new Philox(5));
  let inner = 0;
  for (let i = 0; i < N; i++) {
    const r = Math.hypot(x.data[2 * i], x.data[2 * i + 1]);
    assert.ok(Math.abs(r - 3) < 1e-5 || Math.abs(r - 1.5) < 1e-5, `radius ${r}`);
    if (r < 2) inner++;
  }
  assert.ok(Math.abs(inner / N - 0.5) < 4 * Math.sqrt(0.25 / N), `inner share ${inner / N}`);
  const m = mean(x);
  assert.ok(Math.abs(m[0]) < 0.06 && Math.abs(m[1]) < 0.06);
});

test('swiss roll: without noise 5 x = t (cos t, sin t) with t in [1.5 pi, 4.5 pi]', () => {
  const x = swissRoll({ noise: 0 }).sample(2000, new Philox(6));
  for (let i = 0; i < 2000; i++) {
    const a = 5 * x.data[2 * i],
      b = 5 * x.data[2 * i + 1];
    const t = Math.hypot(a, b);
    assert.ok(t >= 1.5 * Math.PI - 1e-4 && t <= 4.5 * Math.PI + 1e-4, `t = ${t}`);
    assert.ok(Math.abs(a - t * Math.cos(t)) < 1e-4 && Math.abs(b - t * Math.sin(t)) < 1e-4);
  }
});

test('8 gaussians: moments and exact density match the closed form of the FFJORD mixture', () => {
  const ds = eightGaussians();
  const x = ds.sample(N, new Philox(7));
  const r = 4 / 1.414,
    s = 0.5 / 1.414;
  // per axis: E[c_x^2] = r^2 * mean(cos^2 over the 8 directions) = r^2 / 2, plus s^2
  const want = (r * r) / 2 + s * s;
  const v = variance(x),
    m = mean(x);
  for (const k of [0, 1]) {
    assert.ok(Math.abs(m[k]) < 4 * Math.sqrt(want / N), `mean ${m}`);
    assert.ok(Math.abs(v[k] - want) < 0.05 * want, `variance ${v} vs ${want}`);
  }
  // density: (1/8) sum_k N(x; r d_k, s^2 I), evaluated here directly
  const dirs = [
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
    [Math.SQRT1_2, Math.SQRT1_2],
    [Math.SQRT1_2, -Math.SQRT1_2],
    [-Math.SQRT1_2, Math.SQRT1_2],
    [-Math.SQRT1_2, -Math.SQRT1_2],
  ];
  const pts = [
    [r, 0],
    [0, 0],
    [1, -2],
    [r * Math.SQRT1_2 + 0.1, r * Math.SQRT1_2],
  ].map((p) => p.map(Math.fround)); // NDArray holds float32
  const lp = ds.logDensity!(NDArray.from(pts));
  pts.forEach(([a, b], i) => {
    const p =
      dirs.reduce(
        (acc, [dx, dy]) =>
          acc + Math.exp(-((a - r * dx) ** 2 + (b - r * dy) ** 2) / (2 * s * s)) / (2 * Math.PI * s * s),
        0,
      ) / 8;
    assert.ok(
      Math.abs(lp[i] - Math.log(p)) < 1e-9 * Math.max(1, Math.abs(Math.log(p))),
      `log p at ${pts[i]}: ${lp[i]} vs ${Math.log(p)}`,
    );
  });
});

test('checkerboard: only the 8 squares with floor(x/2) + floor(y/2) even, each with probability 1/8', () => {
  const x = checkerboard().sample(N, new Philox(8));
  const counts = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const a = x.data[2 * i],
      b = x.data[2 * i + 1];
    assert.ok(a >= -4 && a < 4 && b >= -4 && b < 4, `(${a}, ${b}) outside [-4, 4)^2`);
    const qa = Math.floor(a / 2),
      qb = Math.floor(b / 2);
    assert.equal((((qa + qb) % 2) + 2) % 2, 0, `(${a}, ${b}) on a white square`);
    counts.set(`${qa},${qb}`, (counts.get(`${qa},${qb}`) ?? 0) + 1);
  }
  assert.equal(counts.size, 8);
  for (const [k, c] of counts)
    assert.ok(Math.abs(c / N - 1 / 8) < 5 * Math.sqrt(((1 / 8) * (7 / 8)) / N), `square ${k}: ${c / N}`);
});

test("'gmm' wraps src/data/gaussian_mixture.ts: same samples and exact density", () => {
  const ds = gmm();
  assert.deepEqual(ds.sample(64, new Philox(9)).data, ds.mixture.sample(64, new Philox(9)).data);
  const x = NDArray.from([
    [0, 0],
    [2, 2],
  ]);
  assert.deepEqual(ds.logDensity!(x), ds.mixture.logDensity(x));
  const custom = GaussianMixture.onCircle({ components: 3, radius: 1, stds: 0.1 });
  assert.equal(gmm({ mixture: custom }).mixture, custom);
  assert.throws(
    () => gmm({ mixture: new GaussianMixture({ weights: [1], means: [[0, 0, 0]], stds: 1 }) }),
    /dimension 3; toy2d data sets are 2D/,
  );
});
