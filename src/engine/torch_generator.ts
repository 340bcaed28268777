import { NDArray } from './ndarray.ts';
import type { RandomGenerator } from './rng.ts';
import { f32 } from './f32.ts';

/**
 * TorchGenerator: bit-exact reproduction of PyTorch's CPU generator (checked against torch 1.13),
 * so that `new TorchGenerator(s).normal(shape)` equals `torch.manual_seed(s); torch.randn(shape)`
 * and `uniform(shape)` equals `torch.rand(shape)` (float32), including successive calls.
 *
 * How PyTorch does it (ATen, read in CPUGeneratorImpl.cpp, core/MT19937RNGEngine.h,
 * core/DistributionsHelper.h, core/TransformationHelper.h, native/cpu/DistributionTemplates.h):
 * - engine: MT19937 (Matsumoto & Nishimura 1998) seeded with the low 32 bits of the seed by the
 *   standard init_genrand recurrence; random() is one 32-bit output, random64() two outputs
 *   (first = high word).
 * - float uniform: (random() & (2^24 - 1)) * 2^-24 (the LOW 24 bits); double uniform:
 *   (random64() & (2^53 - 1)) * 2^-53.
 * - randn with fewer than 16 elements: per element a float64 Box–Muller normal from two double
 *   uniforms u1, u2: r = sqrt(-2 log(1 - u2)), theta = 2 pi u1, returns r cos(theta) and caches
 *   r sin(theta) in the generator for the next scalar draw (manual_seed clears the cache).
 * - randn with 16 or more float32 elements (normal_fill): first all n float uniforms are drawn;
 *   then every full block of 16 is transformed (u1 = 1 - data[j], u2 = data[j + 8] for j < 8,
 *   data[j] = r cos, data[j + 8] = r sin); if n is not a multiple of 16, 16 fresh uniforms
 *   overwrite the last 16 slots and that block is transformed again. On x86-64 with AVX2 (the
 *   kernel PyTorch dispatches to on virtually every current x86 CPU; AVX-512 machines use it too)
 *   the transform is `normal_fill_16_AVX2`, whose log and sincos are the float32 Cephes polynomials
 *   of avx_mathfun.h, compiled with fused multiply-adds. We emulate those float32 operations,
 *   including which ones GCC fused, below.
 *
 * Exactness: the uniform path and the AVX2 normal_fill path are exact; the emulated log was
 * compared with torch over all 2^24 possible u1 and the emulated sin/cos over all 2^24 possible u2
 * (tools/fixtures/torch_randn.py --exhaustive). The scalar (< 16) path computes log/sin/cos in
 * float64 with V8's fdlibm where PyTorch uses glibc's libm; both are within an ulp of float64,
 * so the float32 results agree except when a float64 result falls within an ulp of a float32
 * rounding boundary (probability about 2^-28 per value; 1,050,000 consecutive scalar-path values
 * of seed 123 all matched). (Newer PyTorch writes log1p(-u2); as u2 is a multiple of 2^-53,
 * 1 - u2 is exact and both forms agree up to libm rounding.)
 * Not reproduced: PyTorch builds without AVX2 (non-x86 CPUs), which use libm logf/cosf in
 * normal_fill, CUDA generators, and dtypes other than float32.
 *
 * @example
 *   const g = new TorchGenerator(0);
 *   const x = g.normal([2, 3]);   // == torch.manual_seed(0); torch.randn(2, 3)
 *   const u = g.uniform([4]);     // == the next torch.rand(4) on that generator
 */
export class TorchGenerator implements RandomGenerator {
  private readonly mt = new Uint32Array(MT_N);
  /** Outputs left before the next twist, as in PyTorch's mt19937 (`left_`; 1 right after seeding). */
  private left = 1;
  /** Index of the next state word to temper (`next_`). */
  private next = 0;
  /** The cached second Box–Muller value of the scalar path (`next_double_normal_sample`). */
  private cachedNormal: number | null = null;
  private seedValue: bigint = 0n;

  /** @param seed like torch.manual_seed: an integer in [-2^63, 2^64) (number or bigint). */
  constructor(seed: number | bigint) {
    this.manualSeed(seed);
  }

  /** Re-seeds like `torch.manual_seed(seed)` (also clears the cached normal). @example g.manualSeed(42) */
  manualSeed(seed: number | bigint): this {
    const s = toUint64(seed);
    this.seedValue = s;
    // init_genrand (mt19937ar.c): x[0] = seed, x[j] = 1812433253 (x[j-1] ^ (x[j-1] >> 30)) + j
    const mt = this.mt;
    mt[0] = Number(s & 0xffffffffn);
    for (let j = 1; j < MT_N; j++) {
      const p = mt[j - 1] ^ (mt[j - 1] >>> 30);
      mt[j] = (Math.imul(1812433253, p) + j) >>> 0;
    }
    this.left = 1;
    this.next = 0;
    this.cachedNormal = null;
    return this;
  }

  /** The seed as PyTorch reports it from `initial_seed()` (the uint64 value). @example new TorchGenerator(-1).initialSeed // 18446744073709551615n */
  get initialSeed(): bigint {
    return this.seedValue;
  }

  /** Next 32-bit output of MT19937 (PyTorch's `random()`). @example new TorchGenerator(5489).random() // 3499211612 */
  random(): number {
    if (--this.left === 0) this.twist();
    let y = this.mt[this.next++];
    // tempering (Matsumoto & Nishimura 1998, eq. (2.2)-(2.5))
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Regenerates all 624 state words (the MT19937 recurrence, Matsumoto & Nishimura 1998 eq. (2.1)). */
  private twist(): void {
    const mt = this.mt;
    for (let k = 0; k < MT_N; k++) {
      const y = (mt[k] & 0x80000000) | (mt[(k + 1) % MT_N] & 0x7fffffff);
      mt[k] = mt[(k + MT_M) % MT_N] ^ (y >>> 1) ^ ((y & 1) !== 0 ? 0x9908b0df : 0);
    }
    this.left = MT_N;
    this.next = 0;
  }

  /** A float64 uniform in [0, 1) from random64(): its low 53 bits times 2^-53. */
  private uniform53(): number {
    const hi = this.random(); // random64() = (first << 32) | second
    const lo = this.random();
    return ((hi & 0x1fffff) * 4294967296 + lo) * TWO_POW_M53;
  }

  /** A float64 N(0, 1) draw of the scalar path, using and refilling the cached second value. */
  private scalarNormal(): number {
    if (this.cachedNormal !== null) {
      const v = this.cachedNormal;
      this.cachedNormal = null;
      return v;
    }
    // Box–Muller (Box & Muller 1958), in PyTorch's order: u1 -> angle, u2 -> radius
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * `torch.rand(shape)` (float32): each element (random() & 0xffffff) * 2^-24.
   * @example new TorchGenerator(0).uniform([2])   // torch.manual_seed(0); torch.rand(2)
   */
  uniform(shape: readonly number[]): NDArray {
    const out = new NDArray(shape);
    const d = out.data;
    for (let i = 0; i < d.length; i++) d[i] = (this.random() & 0xffffff) * TWO_POW_M24;
    return out;
  }

  /**
   * `torch.randn(shape)` (float32), including PyTorch's switch between the scalar path (< 16
   * elements) and the vectorised 16-wide path (>= 16 elements).
   * @example new TorchGenerator(42).normal([1, 4, 8, 8])   // torch.manual_seed(42); torch.randn(1, 4, 8, 8)
   */
  normal(shape: readonly number[]): NDArray {
    const out = new NDArray(shape);
    const d = out.data;
    const n = d.length;
    if (n < 16) {
      // transformation::normal: v * std + mean, with std 1 and mean 0 (turns -0 into +0)
      for (let i = 0; i < n; i++) d[i] = this.scalarNormal() + 0;
      return out;
    }
    for (let i = 0; i < n; i++) d[i] = (this.random() & 0xffffff) * TWO_POW_M24;
    for (let i = 0; i + 16 <= n; i += 16) normalFill16(d, i);
    if (n % 16 !== 0) {
      // PyTorch recomputes the last 16 values from 16 fresh uniforms
      const o = n - 16;
      for (let i = 0; i < 16; i++) d[o + i] = (this.random() & 0xffffff) * TWO_POW_M24;
      normalFill16(d, o);
    }
    return out;
  }

  /** Alias of `normal` with PyTorch's name. @example g.randn([3]) */
  randn(shape: readonly number[]): NDArray {
    return this.normal(shape);
  }
  /** Alias of `uniform` with PyTorch's name. @example g.rand([3]) */
  rand(shape: readonly number[]): NDArray {
    return this.uniform(shape);
  }

  /** JSON-able snapshot for checkpoints. @example const s = g.state(); TorchGenerator.fromState(s) */
  state(): TorchGeneratorState {
    return {
      algorithm: 'torch-cpu-mt19937',
      seed: this.seedValue.toString(),
      mt: Array.from(this.mt),
      left: this.left,
      next: this.next,
      cachedNormal: this.cachedNormal,
    };
  }

  /** Restores a generator saved with `state()`. @example TorchGenerator.fromState(JSON.parse(text)) */
  static fromState(s: TorchGeneratorState): TorchGenerator {
    const where = 'TorchGenerator.fromState';
    if (s === null || typeof s !== 'object') throw new Error(`${where}: expected an object, got ${JSON.stringify(s)}`);
    if (s.algorithm !== 'torch-cpu-mt19937') {
      throw new Error(
        `${where}: algorithm = ${JSON.stringify(s.algorithm)} is not supported (allowed: "torch-cpu-mt19937")`,
      );
    }
    if (
      !Array.isArray(s.mt) ||
      s.mt.length !== MT_N ||
      !s.mt.every((w) => Number.isInteger(w) && w >= 0 && w < 4294967296)
    ) {
      throw new Error(`${where}: mt must be an array of ${MT_N} 32-bit unsigned integers`);
    }
    if (!Number.isInteger(s.left) || s.left < 1 || s.left > MT_N)
      throw new Error(`${where}: left = ${s.left} must be an integer in [1, ${MT_N}]`);
    if (!Number.isInteger(s.next) || s.next < 0 || s.next > MT_N)
      throw new Error(`${where}: next = ${s.next} must be an integer in [0, ${MT_N}]`);
    if (s.cachedNormal !== null && typeof s.cachedNormal !== 'number') {
      throw new Error(`${where}: cachedNormal = ${JSON.stringify(s.cachedNormal)} must be a number or null`);
    }
    if (typeof s.seed !== 'string' || !/^\d+$/.test(s.seed))
      throw new Error(`${where}: seed = ${JSON.stringify(s.seed)} must be a decimal string`);
    const g = new TorchGenerator(0);
    g.mt.set(s.mt);
    g.left = s.left;
    g.next = s.next;
    g.cachedNormal = s.cachedNormal;
    g.seedValue = toUint64(BigInt(s.seed));
    return g;
  }
}

/** JSON-able state of a `TorchGenerator`. */
export interface TorchGeneratorState {
  algorithm: 'torch-cpu-mt19937';
  /** The uint64 seed as a decimal string. */
  seed: string;
  /** The 624 MT19937 state words. */
  mt: number[];
  left: number;
  next: number;
  /** The cached second scalar-path normal (float64), or null. */
  cachedNormal: number | null;
}

const MT_N = 624;
const MT_M = 397;
const TWO_POW_M24 = 1 / 16777216;
const TWO_POW_M53 = 1 / 9007199254740992;

/** torch.manual_seed's conversion: integers in [-2^63, 2^64) wrap to uint64 (two's complement). */
function toUint64(seed: number | bigint): bigint {
  let s: bigint;
  if (typeof seed === 'bigint') s = seed;
  else if (typeof seed === 'number' && Number.isSafeInteger(seed)) s = BigInt(seed);
  else
    throw new Error(
      `TorchGenerator: seed = ${String(seed)} is invalid: expected a safe integer or a bigint in [-2^63, 2^64)`,
    );
  if (s < -(1n << 63n) || s >= 1n << 64n) {
    throw new Error(`TorchGenerator: seed = ${s} is out of range: torch.manual_seed accepts integers in [-2^63, 2^64)`);
  }
  return BigInt.asUintN(64, s);
}

// ---------------------------------------------------------------------------------------------
// float32 emulation of PyTorch's normal_fill_16_AVX2 (log256_ps / sincos256_ps: the Cephes
// single-precision logf / sinf / cosf polynomials, Moshier's Cephes library, vectorised in
// avx_mathfun.h). Every intermediate is rounded to float32 with Math.fround; `fma32` is a
// correctly rounded float32 fused multiply-add, used exactly where GCC contracted a*b + c.
// ---------------------------------------------------------------------------------------------

/**
 * Correctly rounded float32 fma(a, b, c) for float32 inputs: a*b is exact in float64 (48 bits);
 * the float64 sum s and its error e (Knuth's TwoSum) hold a*b + c exactly, and rounding s to
 * float32 is wrong only when s is exactly halfway between two float32 numbers while e != 0.
 */
function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  const r = f32(s);
  if (e === 0 || s === r) return r;
  const other = 2 * s - r; // the other float32 neighbour, if s is a tie
  if (f32(other) !== other) return r; // s is not a tie: rounding s is rounding s + e
  return e > 0 === other > r ? other : r;
}

const SCRATCH = new DataView(new ArrayBuffer(4));

const SQRTHF = f32(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32);
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);

/**
 * Natural log of a positive normal float32 as PyTorch's AVX2 `log256_ps` computes it: x = m 2^e
 * with m in [sqrt(1/2), sqrt(2)), log(x) = (m - 1) + P(m - 1) + e ln 2 with ln 2 split into
 * 0.693359375 - 2.12194440e-4 (Cephes logf). Matches torch bit for bit on all of (0, 1].
 *
 * @example avx2Log(0.5)   // -0.6931471824645996 (float32 of ln 0.5)
 */
export function avx2Log(x: number): number {
  SCRATCH.setFloat32(0, x);
  const bits = SCRATCH.getUint32(0);
  let e = f32((bits >>> 23) - 127 + 1);
  SCRATCH.setUint32(0, ((bits & 0x807fffff) | 0x3f000000) >>> 0); // mantissa into [0.5, 1)
  const m = SCRATCH.getFloat32(0);
  let t: number;
  if (m < SQRTHF) {
    e = f32(e - 1);
    t = f32(f32(m - 1) + m);
  } else t = f32(m - 1);
  const z = f32(t * t);
  let y = LOG_P[0];
  for (let i = 1; i < 9; i++) y = fma32(y, t, LOG_P[i]); // Horner, fused
  y = f32(y * t);
  y = fma32(y, z, f32(e * LOG_Q1)); // y*z + e*q1, GCC fused the first product
  y = f32(y - f32(z * 0.5));
  t = f32(t + y);
  return fma32(e, LOG_Q2, t);
}

const FOPI = f32(1.27323954473516); // 4 / pi
const DP1 = f32(-0.78515625),
  DP2 = f32(-2.4187564849853515625e-4),
  DP3 = f32(-3.77489497744594108e-8);
const SIN_P0 = f32(-1.9515295891e-4),
  SIN_P1 = f32(8.3321608736e-3),
  SIN_P2 = f32(-1.6666654611e-1);
const COS_P0 = f32(2.443315711809948e-5),
  COS_P1 = f32(-1.388731625493765e-3),
  COS_P2 = f32(4.166664568298827e-2);

/**
 * [sin(x), cos(x)] of a float32 x >= 0 as PyTorch's AVX2 `sincos256_ps` computes them (Cephes
 * sinf/cosf: octant j from x 4/pi, reduction x - j pi/4 with pi/4 split in three parts, one
 * polynomial per octant pair). Matches torch bit for bit on x = float32(2 pi) u for all 2^24 u.
 *
 * @example avx2SinCos(0)   // [0, 1]
 */
export function avx2SinCos(x: number): [number, number] {
  const neg = x < 0;
  x = Math.abs(x);
  let j = Math.trunc(f32(x * FOPI)) | 0;
  j = (j + 1) & ~1;
  const yj = f32(j);
  const flipSin = ((j & 4) !== 0) !== neg;
  const flipCos = (~(j - 2) & 4) !== 0;
  const cosFirst = (j & 2) === 0;
  // extended-precision modular arithmetic: x - j * pi/4 (fused)
  x = fma32(yj, DP1, x);
  x = fma32(yj, DP2, x);
  x = fma32(yj, DP3, x);
  const z = f32(x * x);
  let c = fma32(COS_P0, z, COS_P1);
  c = fma32(c, z, COS_P2);
  c = f32(c * z);
  c = fma32(c, z, -f32(z * 0.5));
  c = f32(c + 1);
  let s = fma32(SIN_P0, z, SIN_P1);
  s = fma32(s, z, SIN_P2);
  s = f32(s * z);
  s = fma32(s, x, x);
  let sin = cosFirst ? s : c;
  let cos = cosFirst ? c : s;
  if (flipSin) sin = -sin;
  if (flipCos) cos = -cos;
  return [sin, cos];
}

const TWO_PI_F32 = f32(2 * Math.PI);

/** In place: 16 float32 uniforms at d[o..o+15] -> 16 normals (PyTorch normal_fill_16_AVX2, std 1, mean 0). */
function normalFill16(d: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - d[o + j]); // [0, 1) -> (0, 1] for the log
    const u2 = d[o + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * avx2Log(u1))));
    const theta = f32(TWO_PI_F32 * u2);
    const [sin, cos] = avx2SinCos(theta);
    // float32 product (exact in float64, rounded by the store), then fmadd(n, std = 1, mean = 0),
    // whose only effect is -0 -> +0
    d[o + j] = radius * cos + 0;
    d[o + j + 8] = radius * sin + 0;
  }
}
