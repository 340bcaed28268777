/**
 * The k-diffusion style DPM-Solver++ samplers against k-diffusion's own code run as an oracle
 * (test/fixtures/k_diffusion/dpmpp.json from tools/fixtures/k_dpmpp_fixtures.py: Birch-san/k-diffusion@25fbfe0,
 * k_diffusion/sampling.py, under PyTorch 1.13). The recorded noise draws are replayed through `noiseSampler`,
 * so the order and scaling of the injected noise are checked too.
 *
 * Tolerance: |got - want| <= 1e-5 |want| + 1e-6 max|want| per element (k-diffusion computes its scalar
 * coefficients as float32 tensors, we in float64; the difference stays at float32 rounding level).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray } from '../../src/engine/ndarray.ts';
import {
  sampleDpmpp2m, sampleDpmpp2mSde, sampleDpmpp2sAncestral, sampleDpmpp3mSde, type Denoiser, type KStepInfo,
} from '../../src/samplers/k_dpmpp.ts';

interface OracleCase {
  id: string;
  function: string;
  kwargs: { eta?: number; s_noise?: number; solver_type?: 'midpoint' | 'heun' };
  sigmas: number[];
  x_T: number[];
  steps: { i: number; x: number[]; denoised: number[] }[];
  noises: number[][];
  final: number[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/k_diffusion/dpmpp.json', import.meta.url), 'utf8')) as {
  shape: number[]; mu: number[]; cases: OracleCase[];
};

const f32 = Math.fround;
const S2 = f32(0.8 * 0.8);
/** The fixture's denoiser, float32 op for op: (s^2 x + sigma^2 mu) / (s^2 + sigma^2). */
const denoiser: Denoiser = (x, sigma) => {
  const sig2 = f32(f32(sigma) * f32(sigma));
  const den = f32(S2 + sig2);
  return x.map((v, i) => f32(f32(f32(S2 * v) + f32(sig2 * fx.mu[i])) / den));
};

function allClose(got: ArrayLike<number>, want: number[], what: string): void {
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * Math.abs(want[i]) + 1e-6 * scale;
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: got ${got[i]}, k-diffusion ${want[i]} (tolerance ${tol})`);
  }
}

for (const c of fx.cases) {
  test(`${c.function} ${c.id} equals k-diffusion`, () => {
    const xT = new NDArray(fx.shape, Float32Array.from(c.x_T));
    let k = 0;
    const noiseSampler = () => {
      assert.ok(k < c.noises.length, `${c.id}: more noise draws than k-diffusion made (${c.noises.length})`);
      return new NDArray(fx.shape, Float32Array.from(c.noises[k++]));
    };
    const seen: KStepInfo[] = [];
    const opts = {
      callback: (info: KStepInfo) => seen.push(info),
      noiseSampler,
      eta: c.kwargs.eta,
      sNoise: c.kwargs.s_noise,
      solverType: c.kwargs.solver_type,
    };
    const sigmas = Float32Array.from(c.sigmas);
    let out: NDArray;
    switch (c.function) {
      case 'sample_dpmpp_2m': out = sampleDpmpp2m(denoiser, xT, sigmas, { callback: opts.callback }); break;
      case 'sample_dpmpp_2m_sde': out = sampleDpmpp2mSde(denoiser, xT, sigmas, opts); break;
      case 'sample_dpmpp_3m_sde': out = sampleDpmpp3mSde(denoiser, xT, sigmas, opts); break;
      case 'sample_dpmpp_2s_ancestral': out = sampleDpmpp2sAncestral(denoiser, xT, sigmas, opts); break;
      default: throw new Error(`unknown function ${c.function}`);
    }
    assert.equal(seen.length, c.steps.length, `${c.id}: number of steps`);
    c.steps.forEach((st, i) => {
      allClose(seen[i].x.data, st.x, `${c.id} step ${i} x`);
      allClose(seen[i].denoised.data, st.denoised, `${c.id} step ${i} denoised`);
    });
    // k-diffusion draws noise even when it is multiplied by 0 (2S ancestral with eta = 0); we skip those draws
    if (!(c.function === 'sample_dpmpp_2s_ancestral' && c.kwargs.eta === 0)) assert.equal(k, c.noises.length, `${c.id}: noise draws`);
    allClose(out.data, c.final, `${c.id} final`);
  });
}
