/**
 * sampleEuler / sampleEulerAncestral / sampleHeun / sampleDpm2 / sampleLms against k-diffusion's own
 * sampling.py run under PyTorch (test/fixtures/k_diffusion/basic.json, written by
 * tools/fixtures/k_sampling_fixtures.py): every step's x and denoised, and the final sample, with the
 * recorded noise replayed in k-diffusion's draw order. k-diffusion computes in float32 tensors, we
 * accumulate each update in float64 before storing float32: rtol 2e-5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { sampleDpm2, sampleEuler, sampleEulerAncestral, sampleHeun, sampleLms } from '../../src/samplers/k_sampling.ts';
import { allClose } from './_fixture_runner.ts';
import { loadKFixture, oracleDenoiser, Replay } from './_k_oracle.ts';

const fx = loadKFixture('basic');
const shape = fx.shape;
const denoiser = oracleDenoiser(fx.mu);

const FN: Record<string, typeof sampleEuler> = {
  sample_euler: sampleEuler,
  sample_euler_ancestral: sampleEulerAncestral as typeof sampleEuler,
  sample_heun: sampleHeun,
  sample_dpm_2: sampleDpm2,
  sample_lms: sampleLms as typeof sampleEuler,
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
    c.steps.forEach((st, i) => {
      const sigmaHat = st.sigma_hat as number;
      assert.ok(Math.abs(seen[i].sigmaHat - sigmaHat) <= 1e-6 * sigmaHat, `step ${i} sigma_hat`);
      const mx = Math.max(...st.x.map(Math.abs));
      allClose(seen[i].x.data, st.x, 2e-5, 1e-6 * mx, `${c.id} step ${i} x`);
      allClose(seen[i].denoised.data, st.denoised, 2e-5, 1e-6 * mx, `${c.id} step ${i} denoised`);
    });
    allClose(out.data, c.final, 2e-5, 1e-6 * Math.max(...c.final.map(Math.abs)), `${c.id} final`);
  });
}
