import { NDArray } from './ndarray.ts';

/**
 * Source of random numbers for every stochastic path in diffuse (no unseeded global generator anywhere).
 * Implementations: `Philox` (counter-based, splittable; identical bits on every platform) and
 * `TorchGenerator` (reproduces torch.manual_seed(s); torch.randn(shape) on the CPU).
 */
export interface RandomGenerator {
  /** Standard normal samples N(0, 1) of the given shape (float32). */
  normal(shape: readonly number[]): NDArray;
  /** Uniform samples in [0, 1) of the given shape (float32). */
  uniform(shape: readonly number[]): NDArray;
}

export { TorchGenerator } from './torch_generator.ts';
export type { TorchGeneratorState } from './torch_generator.ts';

// ---------------------------------------------------------------------------------------------
// Philox 4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC'11, section 3.3 and table 2). A bijection of a 128-bit counter under a 64-bit key; the
// i-th block of a stream is philox(counter = i, key), so any block can be computed directly.
// ---------------------------------------------------------------------------------------------

/** Philox 4x32 round multipliers (SC'11 table 2). */
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
/** Weyl-sequence key increments ("bump", SC'11 section 3.3): golden ratio and sqrt(3) - 1, as 32-bit fractions. */
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
/** 16-bit halves of the multipliers, for the high word of the 32x32 -> 64-bit product. */
const M0_HI = PHILOX_M0 >>> 16,
  M0_LO = PHILOX_M0 & 0xffff;
const M1_HI = PHILOX_M1 >>> 16,
  M1_LO = PHILOX_M1 & 0xffff;

const TWO_POW_32 = 4294967296;
const TWO_POW_M24 = 1 / 16777216;
const TWO_POW_M32 = 1 / TWO_POW_32;
/** 2 pi 2^-32 (exact scaling of 2 pi by a power of two). */
const TWO_PI_M32 = 2 * Math.PI * TWO_POW_M32;

/** Counter word c3 separates the uses of one key: the stream itself, `split` and `fold`. */
const DOMAIN_STREAM = 0;
const DOMAIN_SPLIT = 1;
const DOMAIN_FOLD = 2;

/** The 10 round keys (k0, k1), (k0 + W0, k1 + W1), ... of the Philox key schedule (SC'11 section 3.3). */
function roundKeys(k0: number, k1: number): Int32Array {
  const ks = new Int32Array(20);
  for (let r = 0; r < 10; r++) {
    ks[2 * r] = k0;
    ks[2 * r + 1] = k1;
    k0 = (k0 + PHILOX_W0) | 0;
    k1 = (k1 + PHILOX_W1) | 0;
  }
  return ks;
}

/**
 * Philox4x32-10 on counter (c0, c1, c2, c3) with precomputed round keys `ks`, writing 4 words to
 * out[o..o+3]. Int32 arithmetic only (identical bits on every platform). mulhi(M, c) is built from
 * 16-bit limbs: M c = Mh ch 2^32 + (Mh cl + Ml ch) 2^16 + Ml cl, each partial product taken with
 * Math.imul (exact, < 2^32) and the carries of the middle column added explicitly.
 */
function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  ks: Int32Array,
  out: Uint32Array,
  o: number,
): void {
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  for (let r = 0; r < 20; r += 2) {
    // (hi0, lo0) = M0 * c0
    let cl = c0 & 0xffff,
      ch = c0 >>> 16;
    let lh = Math.imul(M0_LO, ch),
      hl = Math.imul(M0_HI, cl);
    let mid = (Math.imul(M0_LO, cl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
    const hi0 = (Math.imul(M0_HI, ch) + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
    const lo0 = Math.imul(PHILOX_M0, c0);
    // (hi1, lo1) = M1 * c2
    cl = c2 & 0xffff;
    ch = c2 >>> 16;
    lh = Math.imul(M1_LO, ch);
    hl = Math.imul(M1_HI, cl);
    mid = (Math.imul(M1_LO, cl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
    const hi1 = (Math.imul(M1_HI, ch) + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
    const lo1 = Math.imul(PHILOX_M1, c2);
    // the Philox round (SC'11 section 3.3): permute, xor high halves with counter and round key
    c0 = hi1 ^ c1 ^ ks[r];
    c1 = lo1;
    c2 = hi0 ^ c3 ^ ks[r + 1];
    c3 = lo0;
  }
  out[o] = c0;
  out[o + 1] = c1;
  out[o + 2] = c2;
  out[o + 3] = c3;
}

/**
 * One Philox4x32-10 block: the 4 output words for counter (c0, c1, c2, c3) and key (k0, k1),
 * written to out[o..o+3] (all arguments are 32-bit unsigned words).
 *
 * @example
 *   const out = new Uint32Array(4);
 *   philox4x32(0, 0, 0, 0, 0, 0, out, 0);   // out = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  o = 0,
): void {
  philoxBlock(c0, c1, c2, c3, roundKeys(k0 | 0, k1 | 0), out, o);
}

/** JSON-able state of a `Philox` stream (for checkpoints): key and next block counter as 32-bit words. */
export interface PhiloxState {
  algorithm: 'philox4x32-10';
  /** [k0, k1]: the 64-bit key, low word first. */
  key: [number, number];
  /** [lo, hi]: index of the next block of the stream (64 bits, low word first). */
  counter: [number, number];
}

function checkUint32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= TWO_POW_32) {
    throw new Error(
      `Philox.fromState: ${what} = ${JSON.stringify(v)} is not a 32-bit unsigned integer (0 .. 4294967295)`,
    );
  }
  return v;
}

/** Splits a non-negative integer (< 2^64) into [lo, hi] 32-bit words, with a clear error otherwise. */
function toWords64(v: number | bigint, what: string): [number, number] {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 64n) throw new Error(`${what} = ${v} is out of range: expected an integer in [0, 2^64)`);
    return [Number(v & 0xffffffffn), Number(v >> 32n)];
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(
      `${what} = ${String(v)} is invalid: expected a non-negative safe integer (0 .. 2^53-1) or a bigint in [0, 2^64)`,
    );
  }
  return [v % TWO_POW_32, Math.floor(v / TWO_POW_32)];
}

/**
 * Counter-based Philox 4x32-10 generator (Salmon et al., SC'11) with jax-style key splitting.
 *
 * A `Philox` is a 64-bit key plus the 64-bit index of the next block of its stream. Every block
 * gives 4 words of 32 bits; each call (`uniform`, `normal`, `randint`, `permutation`, ...) consumes
 * whole blocks, so a call of n values advances the counter by ceil(words / 4) and the rest of the
 * last block is discarded. Consequently two calls of n/2 values do not equal one call of n values
 * unless n/2 is a multiple of the block yield (4 uniforms, 4 normals).
 *
 * Bits are identical on every platform: words, `uniform`, `randint` and `permutation` are exact
 * 32-bit integer arithmetic. `normal()` also uses Math.log, Math.sqrt (IEEE-exact), Math.cos and
 * Math.sin. V8 computes the transcendental ones in software, not with CPU instructions (fdlibm-
 * derived code; recent V8 builds use a port of glibc's sin/cos), accurate to about an ulp of
 * float64 but not guaranteed correctly rounded. So one V8 version gives the same bits on every
 * OS and CPU, and Node.js and Chromium agree when their V8s share these routines; a different
 * implementation could change the last bit of a float64 intermediate, which the final rounding
 * to float32 hides except near a float32 rounding boundary (about 1 value in 2^28).
 *
 * @example
 *   const rng = new Philox(42);
 *   const x = rng.normal([2, 3]);            // NDArray of N(0, 1), float32
 *   const [a, b] = rng.split(2);             // independent children, reproducible from the key
 *   const saved = rng.state();               // JSON-able; Philox.fromState(saved) resumes the stream
 */
export class Philox implements RandomGenerator {
  private k0: number;
  private k1: number;
  /** Round keys of (k0, k1). */
  private ks: Int32Array;
  /** Next block index, low and high 32-bit words. */
  private ctrLo = 0;
  private ctrHi = 0;
  private readonly block = new Uint32Array(4);

  /** @param seed non-negative integer (number < 2^53 or bigint < 2^64); it is the 64-bit key. */
  constructor(seed: number | bigint) {
    [this.k0, this.k1] = toWords64(seed, 'Philox: seed');
    this.ks = roundKeys(this.k0, this.k1);
  }

  /** Builds a generator from a raw key and block counter. */
  private static fromWords(k0: number, k1: number, ctrLo = 0, ctrHi = 0): Philox {
    const p = new Philox(0);
    p.k0 = k0 >>> 0;
    p.k1 = k1 >>> 0;
    p.ks = roundKeys(k0, k1);
    p.ctrLo = ctrLo >>> 0;
    p.ctrHi = ctrHi >>> 0;
    return p;
  }

  /** The 64-bit key as [lo, hi]. */
  get key(): [number, number] {
    return [this.k0, this.k1];
  }

  /** JSON-able snapshot (key + next block counter). @example const s = rng.state(); const r2 = Philox.fromState(s); */
  state(): PhiloxState {
    return { algorithm: 'philox4x32-10', key: [this.k0, this.k1], counter: [this.ctrLo, this.ctrHi] };
  }

  /** Restores a generator saved with `state()`; it continues exactly where the saved one stood. @example Philox.fromState(JSON.parse(text)) */
  static fromState(s: PhiloxState): Philox {
    if (s === null || typeof s !== 'object')
      throw new Error(`Philox.fromState: expected an object {algorithm, key, counter}, got ${JSON.stringify(s)}`);
    if (s.algorithm !== 'philox4x32-10') {
      throw new Error(
        `Philox.fromState: algorithm = ${JSON.stringify(s.algorithm)} is not supported (allowed: "philox4x32-10")`,
      );
    }
    if (!Array.isArray(s.key) || s.key.length !== 2)
      throw new Error(`Philox.fromState: key = ${JSON.stringify(s.key)} must be [k0, k1]`);
    if (!Array.isArray(s.counter) || s.counter.length !== 2)
      throw new Error(`Philox.fromState: counter = ${JSON.stringify(s.counter)} must be [lo, hi]`);
    return Philox.fromWords(
      checkUint32(s.key[0], 'key[0]'),
      checkUint32(s.key[1], 'key[1]'),
      checkUint32(s.counter[0], 'counter[0]'),
      checkUint32(s.counter[1], 'counter[1]'),
    );
  }

  /** An independent copy at the same position. @example const r2 = rng.clone(); */
  clone(): Philox {
    return Philox.fromWords(this.k0, this.k1, this.ctrLo, this.ctrHi);
  }

  /** Skips `blocks` blocks (4 words each) of the stream. @example rng.advance(1000); */
  advance(blocks: number): this {
    if (!Number.isSafeInteger(blocks) || blocks < 0)
      throw new Error(`Philox.advance: blocks = ${blocks} must be a non-negative safe integer`);
    const lo = this.ctrLo + (blocks % TWO_POW_32);
    this.ctrLo = lo >>> 0;
    this.ctrHi = (this.ctrHi + Math.floor(blocks / TWO_POW_32) + (lo >= TWO_POW_32 ? 1 : 0)) >>> 0;
    return this;
  }

  /**
   * `n` child generators with keys derived by hashing this key with Philox itself (jax-style
   * `random.split`): child i has key = first two words of philox(counter = (i, 0, 0, SPLIT), key),
   * and a fresh counter. Children depend only on the key, not on the stream position, so the same
   * parent always gives the same children; they never share blocks with the parent's stream.
   *
   * @example const [init, noise] = new Philox(0).split(2);
   */
  split(n: number): Philox[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Philox.split: n = ${n} must be a non-negative integer`);
    const out: Philox[] = [];
    const b = this.block;
    for (let i = 0; i < n; i++) {
      philoxBlock(i % TWO_POW_32, Math.floor(i / TWO_POW_32), 0, DOMAIN_SPLIT, this.ks, b, 0);
      out.push(Philox.fromWords(b[0], b[1]));
    }
    return out;
  }

  /**
   * A child generator for the integer `data` (jax-style `random.fold_in`): key = first two words of
   * philox(counter = (data, 0, FOLD), key). Different `data` give independent children; the
   * children differ from those of `split`.
   *
   * @example const stepRng = rng.fold(step);   // a reproducible generator per training step
   */
  fold(data: number | bigint): Philox {
    const [lo, hi] = toWords64(data, 'Philox.fold: data');
    philoxBlock(lo, hi, 0, DOMAIN_FOLD, this.ks, this.block, 0);
    return Philox.fromWords(this.block[0], this.block[1]);
  }

  /** Fills `out` with the next ceil(out.length / 4) blocks of 32-bit words (the tail of the last block is dropped). */
  private fillWords(out: Uint32Array): void {
    const n = out.length;
    const b = this.block;
    let lo = this.ctrLo,
      hi = this.ctrHi;
    const ks = this.ks;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      philoxBlock(lo, hi, 0, DOMAIN_STREAM, ks, out, i);
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    if (i < n) {
      philoxBlock(lo, hi, 0, DOMAIN_STREAM, ks, b, 0);
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
      for (let j = 0; i < n; i++, j++) out[i] = b[j];
    }
    this.ctrLo = lo;
    this.ctrHi = hi;
  }

  /** A word source for variable-length consumers (rejection sampling); call `done` to commit the counter. */
  private wordStream(): { next: () => number; done: () => void } {
    const b = this.block;
    let j = 4;
    return {
      next: () => {
        if (j === 4) {
          philoxBlock(this.ctrLo, this.ctrHi, 0, DOMAIN_STREAM, this.ks, b, 0);
          this.ctrLo = (this.ctrLo + 1) >>> 0;
          if (this.ctrLo === 0) this.ctrHi = (this.ctrHi + 1) >>> 0;
          j = 0;
        }
        return b[j++];
      },
      done: () => {
        j = 4;
      },
    };
  }

  /** The next `n` raw 32-bit words of the stream. @example rng.bits(8) // Uint32Array(8) */
  bits(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Philox.bits: n = ${n} must be a non-negative integer`);
    const out = new Uint32Array(n);
    this.fillWords(out);
    return out;
  }

  /**
   * Uniform float32 samples in [0, 1): the top 24 bits of each word times 2^-24 (exactly
   * representable, so every value is a multiple of 2^-24 and 1 is never returned).
   *
   * @example new Philox(0).uniform([4])   // 4 values in [0, 1), one block
   */
  uniform(shape: readonly number[]): NDArray {
    const out = new NDArray(shape);
    const n = out.size;
    const w = new Uint32Array(n);
    this.fillWords(w);
    const d = out.data;
    for (let i = 0; i < n; i++) d[i] = (w[i] >>> 8) * TWO_POW_M24;
    return out;
  }

  /**
   * Standard normal float32 samples by the Box–Muller transform (Box & Muller 1958): each pair of
   * words (a, b) gives u1 = (a + 1) 2^-32 in (0, 1] and u2 = b 2^-32 in [0, 1);
   * z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2), in float64, stored as
   * float32. The angle is reduced exactly on the integer b: with q = round(4 u2) mod 4 and
   * phi = 2 pi (u2 - q/4) in [-pi/4, pi/4), (cos, sin) of 2 pi u2 is (cos phi, sin phi) turned by
   * q quarter turns (exact swaps and sign flips), so Math.cos/Math.sin only see |phi| <= pi/4.
   * With 32-bit u1 the largest |z| is sqrt(64 ln 2) = 6.66.
   *
   * @example const eps = new Philox(7).normal([1, 4, 8, 8]);
   */
  normal(shape: readonly number[]): NDArray {
    const out = new NDArray(shape);
    const n = out.size;
    const d = out.data;
    const b = this.block;
    const ks = this.ks;
    let lo = this.ctrLo,
      hi = this.ctrHi;
    for (let i = 0; i < n; i += 4) {
      philoxBlock(lo, hi, 0, DOMAIN_STREAM, ks, b, 0);
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
      if (i + 4 <= n) {
        boxMuller(b[0], b[1], d, i);
        boxMuller(b[2], b[3], d, i + 2);
      } else {
        // the last, partial block
        const tmp = new Float32Array(4);
        boxMuller(b[0], b[1], tmp, 0);
        boxMuller(b[2], b[3], tmp, 2);
        for (let j = 0; i + j < n; j++) d[i + j] = tmp[j];
      }
    }
    this.ctrLo = lo;
    this.ctrHi = hi;
    return out;
  }

  /**
   * One uniform integer in [0, max), unbiased (rejection of the top partial range of 2^32).
   * @example new Philox(3).uniformInt(6)   // a die roll 0..5
   */
  uniformInt(max: number): number {
    checkMax(max, 'Philox.uniformInt');
    const s = this.wordStream();
    const v = drawBelow(s.next, max);
    s.done();
    return v;
  }

  /**
   * `n` uniform integers in [0, max) (max <= 2^32), unbiased by rejection sampling; the number of
   * blocks consumed depends on the rejections (deterministic for a given state).
   *
   * @example new Philox(1).randint(5, 10)   // Uint32Array of 5 values in 0..9
   */
  randint(n: number, max: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Philox.randint: n = ${n} must be a non-negative integer`);
    checkMax(max, 'Philox.randint');
    const out = new Uint32Array(n);
    const s = this.wordStream();
    for (let i = 0; i < n; i++) out[i] = drawBelow(s.next, max);
    s.done();
    return out;
  }

  /**
   * A uniformly random permutation of 0..n-1 by the Fisher–Yates shuffle (Durstenfeld 1964;
   * Knuth TAOCP vol. 2, Algorithm 3.4.2P), e.g. for a seeded data shuffle per epoch.
   *
   * @example const order = rng.fold(epoch).permutation(dataset.length);
   */
  permutation(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0 || n > TWO_POW_32) {
      throw new Error(`Philox.permutation: n = ${n} must be an integer in [0, 2^32]`);
    }
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const s = this.wordStream();
    for (let i = n - 1; i > 0; i--) {
      const j = drawBelow(s.next, i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    s.done();
    return p;
  }
}

/**
 * Box–Muller on words (a, b): writes r cos(theta) to d[i] and r sin(theta) to d[i + 1], where
 * r = sqrt(-2 ln((a + 1) 2^-32)) and theta = 2 pi b 2^-32 (reduced exactly to |phi| <= pi/4).
 */
function boxMuller(a: number, b: number, d: Float32Array, i: number): void {
  const r = Math.sqrt(-2 * Math.log((a + 1) * TWO_POW_M32));
  const t = (b + 0x20000000) | 0; // shift by 1/8 turn so q = round(4 u2) mod 4
  const q = t >>> 30; // quadrant 0..3
  const phi = TWO_PI_M32 * ((t & 0x3fffffff) - 0x20000000); // 2 pi (u2 - q/4), in [-pi/4, pi/4)
  const c = r * Math.cos(phi),
    s = r * Math.sin(phi);
  if (q === 0) {
    d[i] = c;
    d[i + 1] = s;
  } else if (q === 1) {
    d[i] = -s;
    d[i + 1] = c;
  } else if (q === 2) {
    d[i] = -c;
    d[i + 1] = -s;
  } else {
    d[i] = s;
    d[i + 1] = -c;
  }
}

function checkMax(max: number, where: string): void {
  if (!Number.isInteger(max) || max < 1 || max > TWO_POW_32) {
    throw new Error(`${where}: max = ${max} must be an integer in [1, 2^32]`);
  }
}

/** Unbiased integer in [0, max): accept a word w < 2^32 - (2^32 mod max), return w mod max. */
function drawBelow(next: () => number, max: number): number {
  const limit = TWO_POW_32 - (TWO_POW_32 % max);
  for (;;) {
    const w = next();
    if (w < limit) return w % max;
  }
}
