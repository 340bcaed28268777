/**
 * A small deterministic N(0,1) source for tests (xorshift128+ with Box-Muller). Library code uses
 * src/engine/rng.ts; this only exists so sampler tests do not depend on a particular RNG build.
 */
import { NDArray } from '../../src/engine/ndarray.ts';
import type { RandomGenerator } from '../../src/engine/rng.ts';

export class TestNormalRng implements RandomGenerator {
  private s0: bigint;
  private s1: bigint;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s0 = (BigInt(seed) * 0x9e3779b97f4a7c15n + 0x1234567n) & 0xffffffffffffffffn;
    this.s1 = ((this.s0 ^ 0xdeadbeefcafebaben) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    for (let i = 0; i < 20; i++) this.next();
  }
  private next(): number {
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    const r = (this.s1 + y) & 0xffffffffffffffffn;
    return Number(r >> 11n) / 2 ** 53;
  }
  private gauss(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  normal(shape: readonly number[]): NDArray {
    const a = new NDArray(shape);
    for (let i = 0; i < a.size; i++) a.data[i] = this.gauss();
    return a;
  }
  uniform(shape: readonly number[]): NDArray {
    const a = new NDArray(shape);
    for (let i = 0; i < a.size; i++) a.data[i] = this.next();
    return a;
  }
}
