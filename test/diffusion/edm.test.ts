/**
 * The EDM preconditioning and loss against k-diffusion's own `Denoiser` (k_diffusion/layers.py, run under
 * PyTorch by tools/fixtures/k_diffusion_edm.py -> test/fixtures/k_diffusion/edm_preconditioning.json), the
 * c_noise / log-normal / loss-weight formulas of the EDM paper (Karras et al. 2022, Table 1 and eq. 8),
 * and the conversions between VP model outputs, the denoiser and the score checked on the closed-form
 * Gaussian mixture (whose eps*, denoiser and score are computed independently in gaussian_mixture.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray, Philox, type RandomGenerator } from '../../src/engine/index.ts';
import {
  edmPreconditioning,
  edmDenoised,
  edmOutputFromDenoised,
  edmLossWeight,
  sampleLogNormalSigmas,
  vpOutputToDenoised,
  denoisedToVpOutput,
  scoreFromDenoised,
  denoisedFromScore,
} from '../../src/diffusion/edm.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { EdmObjective } from '../../src/training/edm_objective.ts';

const fx = JSON.parse(
  readFileSync(new URL('../fixtures/k_diffusion/edm_preconditioning.json', import.meta.url), 'utf8'),
);

function close(a: number, b: number, rtol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= rtol * Math.abs(b) + 1e-12, `${what}: got ${a}, expected ${b}`);
}

test('c_skip, c_out, c_in equal k-diffusion Denoiser.get_scalings (float64)', () => {
  for (const s of fx.scalings) {
    s.sigma.forEach((sigma: number, i: number) => {
      const p = edmPreconditioning(sigma, s.sigma_data);
      close(p.cSkip, s.c_skip[i], 1e-14, `c_skip(${sigma}, ${s.sigma_data})`);
      close(p.cOut, s.c_out[i], 1e-14, `c_out(${sigma}, ${s.sigma_data})`);
      close(p.cIn, s.c_in[i], 1e-14, `c_in(${sigma}, ${s.sigma_data})`);
      close(p.cNoise, Math.log(sigma) / 4, 1e-15, 'c_noise = ln(sigma) / 4 (EDM Table 1)');
      // v_prediction flips c_out only (diffusers' EDM schedulers)
      assert.equal(edmPreconditioning(sigma, s.sigma_data, 'v_prediction').cOut, -p.cOut);
    });
  }
});

const shape: number[] = fx.shape;
const x0 = new NDArray(shape, fx.x0);
const noise = new NDArray(shape, fx.noise);
const fixedNoise: RandomGenerator = {
  normal: () => noise.clone(),
  uniform: () => {
    throw new Error('unused');
  },
} as unknown as RandomGenerator;
/** The fixture's inner model F(x_in, sigma) = 0.7 x_in + 0.05 ln(sigma), per row sigma; here from c_noise = ln(sigma)/4. */
function inner(xIn: NDArray, cNoise: Float32Array | number[]): NDArray {
  const per = xIn.size / xIn.shape[0];
  return xIn.map((v, i) => 0.7 * v + 0.05 * 4 * cNoise[Math.floor(i / per)]);
}

test('EdmObjective batch and loss equal k-diffusion Denoiser.loss; D = c_skip x + c_out F equals Denoiser.forward', () => {
  for (const c of fx.cases) {
    const obj = new EdmObjective({ sigmaData: c.sigma_data, noiseLabelScale: 1 });
    const b = obj.makeBatch(x0, fixedNoise, c.sigmas);
    const F = inner(b.x_t, Array.from(b.t.data));
    const per = x0.size / shape[0];
    for (let r = 0; r < shape[0]; r++) {
      let l = 0;
      for (let i = r * per; i < (r + 1) * per; i++) l += (F.data[i] - b.target.data[i]) ** 2;
      close(
        (l / per) * b.weight.data[r],
        c.loss_per_row[r],
        2e-5,
        `loss row ${r} (sigma ${c.sigmas[r]}, sigma_data ${c.sigma_data})`,
      );
    }
    for (let r = 0; r < shape[0]; r++) {
      const sigma = c.sigmas[r];
      const xr = new NDArray(
        [per],
        x0.data.subarray(r * per, (r + 1) * per).map((v, i) => v + sigma * noise.data[r * per + i]),
      );
      const Fr = new NDArray([per], F.data.subarray(r * per, (r + 1) * per));
      const D = edmDenoised(xr, Fr, sigma, c.sigma_data);
      D.data.forEach((v, i) => close(v, c.denoised[r * per + i], 2e-5, `denoised[${r}, ${i}]`));
      // and back: the raw output that gives D
      const Fback = edmOutputFromDenoised(D, xr, sigma, c.sigma_data);
      Fback.data.forEach((v, i) => close(v, Fr.data[i], 1e-4, `F from D [${r}, ${i}]`));
    }
  }
});

test('loss weight lambda = 1 / c_out^2 (EDM eq. 8); log-normal sigmas have the requested log-mean and log-std', () => {
  for (const s of [0.01, 0.5, 2, 80])
    close(edmLossWeight(s, 0.5), 1 / edmPreconditioning(s, 0.5).cOut ** 2, 1e-12, `lambda(${s})`);
  const n = 20000;
  const sig = sampleLogNormalSigmas(new Philox(3), n, -1.2, 1.2);
  let m = 0,
    v = 0;
  for (const s of sig) m += Math.log(s) / n;
  for (const s of sig) v += (Math.log(s) - m) ** 2 / (n - 1);
  assert.ok(Math.abs(m + 1.2) < (4 * 1.2) / Math.sqrt(n), `mean of ln sigma ${m}`);
  assert.ok(Math.abs(Math.sqrt(v) - 1.2) < (4 * 1.2) / Math.sqrt(2 * n), `std of ln sigma ${Math.sqrt(v)}`);
});

test('VP outputs <-> denoiser <-> score agree with the Gaussian mixture closed forms', () => {
  const gmm = new GaussianMixture({
    weights: [1, 2],
    means: [
      [-1, 0.5],
      [1, -0.5],
    ],
    stds: [0.3, 0.6],
  });
  const x = NDArray.from([
    [0.3, -0.2],
    [2, 1],
    [-1.5, 0.4],
  ]);
  for (const sigma of [0.05, 0.7, 4]) {
    const abar = 1 / (1 + sigma * sigma);
    const xvp = x.mulScalar(Math.sqrt(abar));
    const eps = gmm.epsilon(xvp, abar);
    const D = gmm.denoise(x, { sigma });
    const Dfe = vpOutputToDenoised(eps, x, sigma, 'epsilon');
    D.data.forEach((v, i) => close(Dfe.data[i], v, 1e-5, `D from eps (sigma ${sigma})`));
    // v = alpha eps - sigma_vp x0 (Salimans & Ho 2022)
    const a = Math.sqrt(abar),
      svp = Math.sqrt(1 - abar);
    const v = eps.map((e, i) => a * e - svp * D.data[i]);
    const Dfv = vpOutputToDenoised(v, x, sigma, 'v_prediction');
    D.data.forEach((d, i) => close(Dfv.data[i], d, 1e-5, `D from v (sigma ${sigma})`));
    denoisedToVpOutput(D, x, sigma, 'v_prediction').data.forEach((w, i) => close(w, v.data[i], 1e-4, 'v from D'));
    denoisedToVpOutput(D, x, sigma, 'epsilon').data.forEach((w, i) => close(w, eps.data[i], 1e-4, 'eps from D'));
    const score = gmm.score(x, { sigma });
    scoreFromDenoised(D, x, sigma).data.forEach((w, i) => close(w, score.data[i], 1e-4, `score (sigma ${sigma})`));
    denoisedFromScore(score, x, sigma).data.forEach((w, i) => close(w, D.data[i], 1e-4, 'D from score'));
  }
  assert.throws(() => edmPreconditioning(0), /sigma = 0 must be a finite number > 0/);
  assert.throws(
    () => vpOutputToDenoised(x, x, 1, 'flow'),
    /prediction_type = "flow" is not supported; allowed values: 'epsilon', 'v_prediction', 'sample'/,
  );
  assert.throws(() => new EdmObjective({ sigmaData: -1 }), /sigma_data = -1 must be a finite number > 0/);
});

test('the noise label scale: EdmObjective feeds s ln(sigma) / 4 and records it when not 1; EDM schedulers use it for their timesteps (1 = diffusers)', async () => {
  const { EDMEulerScheduler } = await import('../../src/samplers/edm_euler.ts');
  const obj = new EdmObjective({ sigmaData: 2, noiseLabelScale: 250 });
  const b = obj.makeBatch(x0, fixedNoise, [0.3, 2.5]);
  close(b.t.data[0], (250 * Math.log(0.3)) / 4, 1e-6, 'label of sigma 0.3');
  const cfg = obj.schedulerConfig();
  assert.equal(cfg.noise_label_scale, 250);
  // EDM's defaults scale with sigma_data / 0.5 (scale equivariance)
  close(cfg.sigma_max as number, 320, 1e-12, 'sigma_max for sigma_data 2');
  close(obj.config.pMean, -1.2 + Math.log(4), 1e-12, 'P_mean for sigma_data 2');
  const s = EDMEulerScheduler.fromConfig(cfg);
  s.setTimesteps(3);
  close(s.timesteps[0], (250 * Math.log(320)) / 4, 1e-6, 'scheduler timestep');
  assert.equal(EDMEulerScheduler.fromConfig({}).config.noise_label_scale, 1);
  // the default is EDM's / diffusers' label, and then the scheduler config holds only diffusers' keys
  assert.equal(new EdmObjective({}).config.noiseLabelScale, 1);
  assert.equal('noise_label_scale' in new EdmObjective({}).schedulerConfig(), false);
});
