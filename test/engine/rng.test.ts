import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, philox4x32, TorchGenerator, type RandomGenerator } from '../../src/engine/rng.ts';

// Known-answer vectors of Philox4x32-10 from Random123's tests/kat_vectors
// (github.com/DEShawResearch/random123, the three "philox4x32 10" lines; columns: counter[4] key[2] -> output[4]):
//   philox4x32 10 00000000 00000000 00000000 00000000 00000000 00000000   6627e8d5 e169c58d bc57ac4c 9b00dbd8
//   philox4x32 10 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff   408f276d 41c83b0e a20bc7c6 6d5451fd
//   philox4x32 10 243f6a88 85a308d3 13198a2e 03707344 a4093822 299f31d0   d16cfe09 94fdcceb 5001e420 24126ea1
const KAT: Array<[number[], number[], number[]]> = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => (x >>> 0).toString(16).padStart(8, '0')).join(' ');

test('philox4x32-10 matches the Random123 known-answer vectors', () => {
  for (const [c, k, want] of KAT) {
    const out = new Uint32Array(4);
    philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out, 0);
    assert.equal(hex(out), hex(want));
  }
});

test('the stream of Philox(seed) is philox(counter = block index, key = seed)', () => {
  // key 0, block 0 is the first KAT vector
  assert.equal(hex(new Philox(0).bits(4)), hex(KAT[0][2]));
  // key = seed as (lo, hi) words; block i has counter (i, 0, 0, 0)
  const seed = 0x299f31d0a4093822n;
  const words = new Philox(seed).bits(12);
  for (let i = 0; i < 3; i++) {
    const out = new Uint32Array(4);
    philox4x32(i, 0, 0, 0, 0xa4093822, 0x299f31d0, out, 0);
    assert.equal(hex(words.subarray(4 * i, 4 * i + 4)), hex(out));
  }
  // numbers and bigints give the same key
  assert.equal(hex(new Philox(123456789012345).bits(8)), hex(new Philox(123456789012345n).bits(8)));
});

test('uniform: float32 multiples of 2^-24 in [0, 1) from the top 24 bits, moments and KS bound', () => {
  const words = new Philox(7).bits(8);
  const u = new Philox(7).uniform([8]);
  for (let i = 0; i < 8; i++) assert.equal(u.data[i], (words[i] >>> 8) / 2 ** 24);

  const n = 100_000;
  const x = new Philox(2024).uniform([n]).data;
  let mean = 0,
    m2 = 0;
  for (const v of x) {
    assert.ok(v >= 0 && v < 1, `uniform value ${v} outside [0, 1)`);
    assert.equal(Number.isInteger(v * 2 ** 24), true);
    mean += v;
  }
  mean /= n;
  for (const v of x) m2 += (v - mean) ** 2;
  const variance = m2 / (n - 1);
  // mean of U(0,1) is 1/2 with standard error sqrt(1/12/n); variance 1/12 (SE about sqrt(1/180/n))
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 5 * Math.sqrt(1 / 180 / n), `variance ${variance}`);
  // Kolmogorov–Smirnov: sqrt(n) D_n < 1.95 (alpha = 0.001)
  const d = ksStatistic(Float64Array.from(x), (v) => v);
  assert.ok(Math.sqrt(n) * d < 1.95, `KS sqrt(n) D = ${Math.sqrt(n) * d}`);
});

test('normal: Box–Muller moments, KS against the normal CDF, independence of the pair', () => {
  const n = 100_000;
  const z = new Philox(99).normal([n]).data;
  let mean = 0;
  for (const v of z) mean += v;
  mean /= n;
  let m2 = 0,
    m3 = 0,
    m4 = 0,
    maxAbs = 0;
  for (const v of z) {
    const c = v - mean;
    m2 += c * c;
    m3 += c * c * c;
    m4 += c * c * c * c;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const skew = m3 / m2 ** 1.5,
    kurt = m4 / (m2 * m2);
  // standard errors for N(0,1): mean 1/sqrt(n), variance sqrt(2/n), skewness sqrt(6/n), kurtosis sqrt(24/n)
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
  assert.ok(Math.abs(m2 - 1) < 5 * Math.sqrt(2 / n), `variance ${m2}`);
  assert.ok(Math.abs(skew) < 5 * Math.sqrt(6 / n), `skewness ${skew}`);
  assert.ok(Math.abs(kurt - 3) < 5 * Math.sqrt(24 / n), `kurtosis ${kurt}`);
  assert.ok(maxAbs <= Math.sqrt(64 * Math.LN2) + 1e-6, `|z| = ${maxAbs} exceeds the 32-bit Box–Muller bound`);
  const d = ksStatistic(Float64Array.from(z), normalCdf);
  assert.ok(Math.sqrt(n) * d < 1.95, `KS sqrt(n) D = ${Math.sqrt(n) * d}`);
  // the cos and sin members of each pair are uncorrelated, and each half is N(0, 1) on its own
  let sxy = 0;
  for (let i = 0; i + 1 < n; i += 2) sxy += z[i] * z[i + 1];
  assert.ok(Math.abs(sxy / (n / 2)) < 5 / Math.sqrt(n / 2), `pair correlation ${sxy / (n / 2)}`);
  const even = new Float64Array(n / 2),
    odd = new Float64Array(n / 2);
  for (let i = 0; i < n / 2; i++) {
    even[i] = z[2 * i];
    odd[i] = z[2 * i + 1];
  }
  assert.ok(Math.sqrt(n / 2) * ksStatistic(even, normalCdf) < 1.95);
  assert.ok(Math.sqrt(n / 2) * ksStatistic(odd, normalCdf) < 1.95);
});

test('normal: the Box–Muller formula on the raw words', () => {
  const w = new Philox(5).bits(4);
  const z = new Philox(5).normal([4]).data;
  for (const [a, b, i] of [
    [w[0], w[1], 0],
    [w[2], w[3], 2],
  ]) {
    const r = Math.sqrt(-2 * Math.log((a + 1) / 2 ** 32));
    const theta = 2 * Math.PI * (b / 2 ** 32);
    // the implementation reduces the angle exactly; compare at float32 precision
    assert.ok(Math.abs(z[i] - r * Math.cos(theta)) <= 1e-6 * Math.max(1, r));
    assert.ok(Math.abs(z[i + 1] - r * Math.sin(theta)) <= 1e-6 * Math.max(1, r));
  }
});

test('determinism: same seed, same bits; different seeds differ', () => {
  const a = new Philox(42).normal([3, 7]);
  const b = new Philox(42).normal([3, 7]);
  assert.deepEqual(Array.from(a.data), Array.from(b.data));
  assert.deepEqual(a.shape, [3, 7]);
  const c = new Philox(43).normal([3, 7]);
  assert.notDeepEqual(Array.from(a.data), Array.from(c.data));
  assert.equal(new Philox(1).normal([]).size, 1);
  assert.equal(new Philox(1).normal([0, 3]).size, 0);
});

test('the stream continues across calls in whole blocks of 4 words', () => {
  const one = new Philox(11);
  const joined = [...one.uniform([8]).data, ...one.normal([4]).data, ...one.normal([4]).data];
  const two = new Philox(11);
  const u16 = two.uniform([8]).data;
  const n8 = two.normal([8]).data;
  assert.deepEqual(joined, [...u16, ...n8]);
  // a partial block is discarded: uniform([3]) then uniform([4]) skips the 4th word
  const p = new Philox(11);
  p.uniform([3]);
  assert.deepEqual(Array.from(p.uniform([4]).data), Array.from(new Philox(11).uniform([8]).data.subarray(4)));
  // advance(k) skips k blocks
  const q = new Philox(11).advance(2);
  assert.deepEqual(Array.from(q.uniform([4]).data), Array.from(new Philox(11).uniform([12]).data.subarray(8)));
});

test('state() / fromState() round trip (through JSON) resumes the stream exactly', () => {
  const g = new Philox(2n ** 64n - 5n);
  g.normal([13]);
  g.permutation(10);
  const saved = JSON.parse(JSON.stringify(g.state()));
  assert.equal(saved.algorithm, 'philox4x32-10');
  const h = Philox.fromState(saved);
  assert.deepEqual(Array.from(h.normal([9]).data), Array.from(g.normal([9]).data));
  assert.deepEqual(Array.from(h.randint(5, 1000)), Array.from(g.randint(5, 1000)));
  const c = g.clone();
  assert.deepEqual(Array.from(c.uniform([6]).data), Array.from(g.uniform([6]).data));
  // the counter carries into its high word
  const s = Philox.fromState({ algorithm: 'philox4x32-10', key: [1, 2], counter: [0xffffffff, 0] });
  s.bits(4);
  assert.deepEqual(s.state().counter, [0, 1]);
});

test('split and fold: reproducible, distinct, independent children', () => {
  const parent = new Philox(0);
  const kids = parent.split(4);
  const again = new Philox(0).split(4);
  assert.deepEqual(
    kids.map((k) => k.key),
    again.map((k) => k.key),
  );
  // children depend on the key only, not on how far the parent's stream has gone
  parent.normal([100]);
  assert.deepEqual(
    parent.split(4).map((k) => k.key),
    kids.map((k) => k.key),
  );
  const keys = new Set(kids.map((k) => k.key.join(':')));
  assert.equal(keys.size, 4);
  assert.ok(!keys.has(parent.key.join(':')));
  // split(n)[i] is a prefix-stable derivation: split(2) are the first two of split(4)
  assert.deepEqual(
    new Philox(0).split(2).map((k) => k.key),
    kids.slice(0, 2).map((k) => k.key),
  );
  // fold: reproducible, different data -> different keys, and different from split
  assert.deepEqual(new Philox(0).fold(7).key, new Philox(0).fold(7).key);
  assert.notDeepEqual(new Philox(0).fold(7).key, new Philox(0).fold(8).key);
  assert.notDeepEqual(new Philox(0).fold(1).key, kids[1].key);
  assert.deepEqual(new Philox(0).fold(2n ** 40n).key, new Philox(0).fold(2 ** 40).key);
  // the children's streams are uncorrelated with each other and with the parent
  const n = 20_000;
  const za = kids[0].normal([n]).data,
    zb = kids[1].normal([n]).data,
    zp = new Philox(0).normal([n]).data;
  for (const [x, y] of [
    [za, zb],
    [za, zp],
    [zb, zp],
  ]) {
    let sxy = 0;
    for (let i = 0; i < n; i++) sxy += x[i] * y[i];
    assert.ok(Math.abs(sxy / n) < 5 / Math.sqrt(n), `correlation ${sxy / n}`);
  }
});

test('randint / uniformInt: range and frequencies (chi-square)', () => {
  const g = new Philox(3);
  const n = 60_000,
    max = 6;
  const v = g.randint(n, max);
  const counts = new Array(max).fill(0);
  for (const x of v) {
    assert.ok(x < max);
    counts[x]++;
  }
  const e = n / max;
  const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
  assert.ok(chi2 < 20.5, `chi2 ${chi2} (5 dof, p = 0.001 at 20.5)`); // 5 dof
  // large bounds (rejection zone is a third of the range) stay in range and unbiased in the top half
  const big = 3 * 2 ** 30;
  const w = new Philox(4).randint(30_000, big);
  let above = 0;
  for (const x of w) {
    assert.ok(x < big);
    if (x >= big / 2) above++;
  }
  assert.ok(Math.abs(above / 30_000 - 0.5) < 5 * Math.sqrt(0.25 / 30_000));
  assert.equal(
    new Philox(5).randint(10, 1).every((x) => x === 0),
    true,
  );
  const k = new Philox(6).uniformInt(2 ** 32);
  assert.ok(Number.isInteger(k) && k >= 0 && k < 2 ** 32);
});

test('permutation: Fisher–Yates gives permutations, uniform over the 6 orders of 3 items', () => {
  const p = new Philox(8).permutation(1000);
  assert.deepEqual(
    Array.from(p).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  const counts = new Map<string, number>();
  const g = new Philox(9);
  const trials = 12_000;
  for (let t = 0; t < trials; t++) {
    const key = Array.from(g.permutation(3)).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  const e = trials / 6;
  const chi2 = [...counts.values()].reduce((s, c) => s + (c - e) ** 2 / e, 0);
  assert.ok(chi2 < 20.5, `chi2 ${chi2}`);
  assert.deepEqual(Array.from(new Philox(1).permutation(0)), []);
  assert.deepEqual(Array.from(new Philox(1).permutation(1)), [0]);
  // reproducible
  assert.deepEqual(Array.from(new Philox(8).permutation(1000)), Array.from(p));
});

test('bad input: errors name the value and the allowed range', () => {
  assert.throws(() => new Philox(-1), /seed = -1 .*non-negative/);
  assert.throws(() => new Philox(1.5), /seed = 1\.5/);
  assert.throws(() => new Philox(2n ** 64n), /seed = 18446744073709551616 is out of range/);
  assert.throws(() => new Philox(0).normal([2, -1]), /invalid shape/);
  assert.throws(() => new Philox(0).randint(3, 0), /max = 0 must be an integer in \[1, 2\^32\]/);
  assert.throws(() => new Philox(0).split(-2), /n = -2/);
  assert.throws(
    () => Philox.fromState({ algorithm: 'mt', key: [0, 0], counter: [0, 0] } as never),
    /algorithm = "mt" is not supported \(allowed: "philox4x32-10"\)/,
  );
  assert.throws(
    () => Philox.fromState({ algorithm: 'philox4x32-10', key: [0, 2 ** 32], counter: [0, 0] }),
    /key\[1\] = 4294967296/,
  );
});

test('both generators implement RandomGenerator', () => {
  const gens: RandomGenerator[] = [new Philox(0), new TorchGenerator(0)];
  for (const g of gens) {
    assert.deepEqual(g.normal([2, 2]).shape, [2, 2]);
    assert.deepEqual(g.uniform([3]).shape, [3]);
  }
});

/** sup |F_n - F| of a sample against the CDF F. */
function ksStatistic(x: Float64Array, cdf: (v: number) => number): number {
  const s = x.slice().sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** Standard normal CDF via erfc (Numerical Recipes' erfcc Chebyshev fit, |rel. error| < 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}
