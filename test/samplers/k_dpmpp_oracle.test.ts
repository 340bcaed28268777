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
import { NDArray } from '../../src/engine/ndarray.ts';
import {
  sampleDpmpp2m,
  sampleDpmpp2mSde,
  sampleDpmpp2sAncestral,
  sampleDpmpp3mSde,
  type KStepInfo,
} from '../../src/samplers/k_dpmpp.ts';
import { allClose as allCloseTol } from './_fixture_runner.ts';
import { loadKFixture, oracleDenoiser, Replay } from './_k_oracle.ts';

const fx = loadKFixture('dpmpp');
const denoiser = oracleDenoiser(fx.mu);

/** |got - want| <= 1e-5 |want| + 1e-6 max|want|, elementwise. */
function allClose(got: ArrayLike<number>, want: number[], what: string): void {
  allCloseTol(got, want, 1e-5, 1e-6 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0), what);
}

for (const c of fx.cases) {
  test(`${c.function} ${c.id} equals k-diffusion`, () => {
    const xT = new NDArray(fx.shape, Float32Array.from(c.x_T));
    const replay = new Replay(c.noises);
    const noiseSampler = () => replay.normal(fx.shape);
    const seen: KStepInfo[] = [];
    const opts = {
      callback: (info: KStepInfo) => seen.push(info),
      noiseSampler,
      eta: c.kwargs.eta as number | undefined,
      sNoise: c.kwargs.s_noise as number | undefined,
      solverType: c.kwargs.solver_type as 'midpoint' | 'heun' | undefined,
    };
    const sigmas = Float32Array.from(c.sigmas);
    let out: NDArray;
    switch (c.function) {
      case 'sample_dpmpp_2m':
        out = sampleDpmpp2m(denoiser, xT, sigmas, { callback: opts.callback });
        break;
      case 'sample_dpmpp_2m_sde':
        out = sampleDpmpp2mSde(denoiser, xT, sigmas, opts);
        break;
      case 'sample_dpmpp_3m_sde':
        out = sampleDpmpp3mSde(denoiser, xT, sigmas, opts);
        break;
      case 'sample_dpmpp_2s_ancestral':
        out = sampleDpmpp2sAncestral(denoiser, xT, sigmas, opts);
        break;
      default:
        throw new Error(`unknown function ${c.function}`);
    }
    assert.equal(seen.length, c.steps.length, `${c.id}: number of steps`);
    c.steps.forEach((st, i) => {
      allClose(seen[i].x.data, st.x, `${c.id} step ${i} x`);
      allClose(seen[i].denoised.data, st.denoised, `${c.id} step ${i} denoised`);
    });
    // k-diffusion draws noise even when it is multiplied by 0 (2S ancestral with eta = 0); we skip those draws
    if (!(c.function === 'sample_dpmpp_2s_ancestral' && c.kwargs.eta === 0))
      assert.equal(replay.used, c.noises.length, `${c.id}: noise draws`);
    allClose(out.data, c.final, `${c.id} final`);
  });
}
