/**
 * Shared pieces of the k-diffusion oracle tests (test/fixtures/k_diffusion/{basic,dpmpp}.json, written by
 * tools/fixtures/k_sampling_fixtures.py and k_dpmpp_fixtures.py): the fixture reader, the fixtures'
 * closed-form denoiser and a generator that replays the recorded noise draws in order.
 */
import { readFileSync } from 'node:fs';
import { NDArray } from '../../src/engine/ndarray.ts';
import type { RandomGenerator } from '../../src/engine/rng.ts';
import type { Denoiser } from '../../src/samplers/k_common.ts';

const f32 = Math.fround;

/** One sampler run recorded from k-diffusion. */
export interface KOracleCase {
  id: string;
  function: string;
  kwargs: Record<string, unknown>;
  sigmas: number[];
  x_T: number[];
  steps: { i: number; x: number[]; denoised: number[]; sigma_hat?: number }[];
  noises: number[][];
  final: number[];
}

/** A k-diffusion oracle fixture: the sample shape, the data mean mu of the denoiser and the cases. */
export interface KOracleFixture {
  shape: number[];
  mu: number[];
  cases: KOracleCase[];
}

/** Read test/fixtures/k_diffusion/<name>.json. */
export function loadKFixture(name: 'basic' | 'dpmpp'): KOracleFixture {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/k_diffusion/${name}.json`, import.meta.url), 'utf8'),
  ) as KOracleFixture;
}

/**
 * The fixtures' denoiser, the ideal one for data x0 ~ N(mu, s^2) with s = 0.8, float32 op for op like the
 * torch one: D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2).
 */
export function oracleDenoiser(mu: ArrayLike<number>): Denoiser {
  const MU = Float32Array.from(mu);
  const S2 = f32(0.8 * 0.8);
  return (x, sigma) => {
    const sig2 = f32(f32(sigma) * f32(sigma));
    const den = f32(S2 + sig2);
    return x.map((v, i) => f32(f32(f32(S2 * v) + f32(sig2 * MU[i])) / den));
  };
}

/** Replays recorded normal draws in order (as a RandomGenerator or, via `next`, a noise sampler). */
export class Replay implements RandomGenerator {
  private k = 0;
  constructor(private readonly draws: number[][]) {}
  normal(shape: readonly number[]): NDArray {
    if (this.k >= this.draws.length)
      throw new Error(`Replay: draw ${this.k} requested, only ${this.draws.length} recorded`);
    return new NDArray(shape, Float32Array.from(this.draws[this.k++]));
  }
  uniform(): NDArray {
    throw new Error('Replay: uniform draws are not recorded');
  }
  /** Number of draws taken so far. */
  get used(): number {
    return this.k;
  }
}
