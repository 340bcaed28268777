/**
 * sampleEuler / sampleEulerAncestral / sampleHeun / sampleDpm2 / sampleLms against k-diffusion's own
 * sampling.py run under PyTorch (test/fixtures/k_diffusion/basic.json, written by
 * tools/fixtures/k_sampling_fixtures.py): every step's x and denoised, and the final sample, with the
 * recorded noise replayed in k-diffusion's draw order. k-diffusion computes in float32 tensors, we
 * accumulate each update in float64 before storing float32: rtol 2e-5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray } from '../../src/engine/ndarray.ts';
import type { RandomGenerator } from '../../src/engine/rng.ts';
import { sampleDpm2, sampleEuler, sampleEulerAncestral, sampleHeun, sampleLms } from '../../src/samplers/k_sampling.ts';
import { allClose } from './_fixture_runner.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/k_diffusion/basic.json', import.meta.url), 'utf8'));
const shape: number[] = fx.shape;
const f32 = Math.fround;
const MU = Float32Array.from(fx.mu);
const S2 = f32(0.8 * 0.8);

/** The fixture's denoiser, in float32 like the torch one. */
function denoiser(x: NDArray, sigma: number): NDArray {
  const sg2 = f32(f32(sigma) * f32(sigma));
  const den = f32(S2 + sg2);
  return x.map((v, i) => f32(f32(S2 * v) + f32(sg2 * MU[i])) / den);
}

/** Replays recorded normal draws in order. */
class Replay implements RandomGenerator {
  private k = 0;
  constructor(private readonly draws: number[][]) {}
  normal(s: readonly number[]): NDArray {
    if (this.k >= this.draws.length) throw new Error(`Replay: draw ${this.k} requested, only ${this.draws.length} recorded`);
    return new NDArray(s, Float32Array.from(this.draws[this.k++]));
  }
  uniform(): NDArray { throw new Error('not used'); }
  get used(): number { return this.k; }
}

const FN: Record<string, typeof sampleEuler> = {
  sample_euler: sampleEuler, sample_euler_ancestral: sampleEulerAncestral as typeof sampleEuler,
  sample_heun: sampleHeun, sample_dpm_2: sampleDpm2, sample_lms: sampleLms as typeof sampleEuler,
};

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

for (const c of fx.cases) {
  test(`${c.function} ${c.id} equals k-diffusion`, () => {
    const gen = new Replay(c.noises);
    const opts: Record<string, unknown> = { generator: gen };
    for (const [k, v] of Object.entries(c.kwargs)) opts[camel(k)] = v;
    const seen: { i: number; x: NDArray; denoised: NDArray; sigmaHat: number }[] = [];
    opts.callback = (info: { i: number; x: NDArray; denoised: NDArray; sigmaHat: number }) => seen.push(info);
    const xT = new NDArray(shape, Float32Array.from(c.x_T));
    const out = FN[c.function](denoiser, xT, Float32Array.from(c.sigmas), opts);
    assert.equal(gen.used, c.noises.length, 'number of normal draws');
    assert.equal(seen.length, c.steps.length);
    c.steps.forEach((st: { i: number; x: number[]; denoised: number[]; sigma_hat: number }, i: number) => {
      assert.ok(Math.abs(seen[i].sigmaHat - st.sigma_hat) <= 1e-6 * st.sigma_hat, `step ${i} sigma_hat`);
      const mx = Math.max(...st.x.map(Math.abs));
      allClose(seen[i].x.data, st.x, 2e-5, 1e-6 * mx, `${c.id} step ${i} x`);
      allClose(seen[i].denoised.data, st.denoised, 2e-5, 1e-6 * mx, `${c.id} step ${i} denoised`);
    });
    allClose(out.data, c.final, 2e-5, 1e-6 * Math.max(...c.final.map(Math.abs)), `${c.id} final`);
  });
}
