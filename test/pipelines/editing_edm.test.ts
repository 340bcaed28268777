/**
 * Editing an EDM-trained model: every editing path (inpaint by replacement, RePaint, img2img, DDIM inversion and
 * decoding, slerp interpolation, classifier guidance) runs an EDM model on VP schedulers through the formulation
 * adapter, and must give what the equivalent VP eps model gives on the same table with the same seed. Both models
 * are exact for a closed-form Gaussian mixture: the VP model is the mixture's eps*(x_t, t) (Tweedie), the EDM model
 * answers F = (D - c_skip x) / c_out from the mixture's exact denoiser D(x; sigma), seeing c_in x and
 * c_noise = ln(sigma) / 4 as a trained EDM network does (Karras et al. 2022, Table 1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { defaultGaussianMixture } from '../../src/data/toy2d.ts';
import { edmPreconditioning } from '../../src/diffusion/edm.ts';
import type { BetaScheduler, RePaintScheduler } from '../../src/samplers/index.ts';
import { editingSampler } from '../../src/pipelines/editing_model.ts';
import { VP_TABLE_FOR_NON_VP_MODELS, vpSchedulerConfig } from '../../src/pipelines/formulation.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { inpaint, repaint } from '../../src/pipelines/inpaint.ts';
import { img2img } from '../../src/pipelines/img2img.ts';
import { ddimDecode, ddimInvert, inversionSchedulers } from '../../src/pipelines/invert.ts';
import { interpolationPath } from '../../src/pipelines/interpolate.ts';
import { knownCoordinatesMask, broadcastMask } from '../../src/pipelines/mask.ts';
import { classifierGuidedModel } from '../../src/pipelines/classifier_guidance.ts';
import { generate, type AsyncModelFn } from '../../src/pipelines/generate.ts';

const gmm = defaultGaussianMixture();
const SIGMA_DATA = 0.5;
/** What `diffuse train --objective edm` writes (src/training/edm_objective.ts, schedulerConfig()). */
const EDM_CFG = {
  _class_name: 'EDMEulerScheduler',
  sigma_min: 0.002,
  sigma_max: 80,
  sigma_data: SIGMA_DATA,
  sigma_schedule: 'karras',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  rho: 7,
  final_sigmas_type: 'zero',
};
/** diffusers' DDPMScheduler defaults, written out: the equivalent VP model's training config. */
const VP_CFG = { num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 };

/** diffusers' default alphas_cumprod, computed here in float64: prod (1 - beta_i), beta linear 1e-4 .. 0.02. */
function defaultAlphasCumprod(): Float64Array {
  const out = new Float64Array(1000);
  let p = 1;
  for (let i = 0; i < 1000; i++) {
    p *= 1 - (0.0001 + ((0.02 - 0.0001) * i) / 999);
    out[i] = p;
  }
  return out;
}

const vpEps = (() => {
  const eps = gmm.epsilonModel(defaultAlphasCumprod());
  return (async (x: NDArray, t: Float32Array) => eps(x, t[0])) as AsyncModelFn;
})();

/** The EDM network of the mixture: input c_in x and label ln(sigma) / 4, output F = (D - c_skip x) / c_out. */
const edmF: AsyncModelFn = async (xin, cNoise) => {
  const sigma = Math.exp(4 * cNoise[0]);
  const { cIn, cSkip, cOut } = edmPreconditioning(sigma, SIGMA_DATA, 'epsilon');
  const x = xin.mulScalar(1 / cIn);
  const D = gmm.denoise(x, { sigma });
  return D.map((d, i) => (d - cSkip * x.data[i]) / cOut);
};

function maxAbsDiff(a: NDArray, b: NDArray): number {
  assert.deepEqual(a.shape, b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}
const TOL = 2e-3;

test('VP schedulers on an EDM model use diffusers default linear table (sigma 0.01 .. 157 covers EDM 0.002 .. 80)', () => {
  assert.equal(VP_TABLE_FOR_NON_VP_MODELS.beta_schedule, 'linear');
  const ref = defaultAlphasCumprod();
  for (const name of ['ddim', 'ddpm', 'RePaintScheduler', 'dpmsolver++']) {
    const s = samplingScheduler(name, EDM_CFG) as BetaScheduler;
    assert.equal(s.alphasCumprod.length, 1000, name);
    for (const i of [0, 499, 999]) assert.ok(Math.abs(s.alphasCumprod[i] / ref[i] - 1) < 1e-4, `${name} abar[${i}]`);
    assert.ok(s.config.prediction_type === 'epsilon' || name === 'RePaintScheduler', name);
  }
  const sig = (a: number) => Math.sqrt((1 - a) / a);
  assert.ok(Math.abs(sig(ref[0]) - 0.01) < 1e-4 && sig(ref[999]) > 150 && sig(ref[999]) < 160);
  const { inverse, ddim } = inversionSchedulers(EDM_CFG);
  assert.ok(Math.abs(inverse.alphasCumprod[999] / ref[999] - 1) < 1e-4);
  assert.ok(Math.abs(ddim.alphasCumprod[999] / ref[999] - 1) < 1e-4);
  // a VP model keeps its own config; the folder's clip_sample is kept
  assert.equal(vpSchedulerConfig(VP_CFG), VP_CFG);
  assert.equal(vpSchedulerConfig({ ...EDM_CFG, clip_sample: false }).clip_sample, false);
});

test('the EDM model seen through a VP scheduler is the exact eps model; a VP model is passed through unchanged', async () => {
  for (const name of ['ddim', 'ddpm', 'RePaintScheduler'])
    assert.equal(editingSampler(vpEps, VP_CFG, name).model, vpEps, `${name}: same formulation, the network itself`);
  const edm = editingSampler(edmF, EDM_CFG, 'ddim');
  const x = gmm.sample(16, new Philox(0)).mulScalar(0.7);
  for (const t of [0, 10, 250, 600, 999]) {
    const tt = new Float32Array(16).fill(t);
    const d = maxAbsDiff(await edm.model(x, tt), await vpEps(x, tt));
    assert.ok(d < 1e-3, `t = ${t}: |eps_edm - eps_vp| = ${d}`);
  }
});

const known = gmm.sample(8, new Philox(7));
const mask = broadcastMask(knownCoordinatesMask(2, [0]), known.shape);

test('inpaint (replacement, DDPM) on the EDM model = on the VP eps model', async () => {
  const run = async (fn: AsyncModelFn, cfg: Record<string, unknown>) => {
    const { scheduler, model } = editingSampler(fn, cfg, 'ddpm', { overrides: { clip_sample: false } });
    return inpaint(model, scheduler, { known, mask, steps: 25, generator: new Philox(1) });
  };
  const a = await run(edmF, EDM_CFG),
    b = await run(vpEps, VP_CFG);
  assert.ok(maxAbsDiff(a, b) < TOL, `max diff ${maxAbsDiff(a, b)}`);
  for (let i = 0; i < 8; i++) assert.equal(a.data[2 * i], known.data[2 * i], 'known coordinate kept');
});

test('RePaint on the EDM model = on the VP eps model', async () => {
  const run = async (fn: AsyncModelFn, cfg: Record<string, unknown>) => {
    const { scheduler, model } = editingSampler(fn, cfg, 'RePaintScheduler', { overrides: { clip_sample: false } });
    return repaint(model, scheduler as RePaintScheduler, {
      known,
      mask,
      steps: 20,
      jumpLength: 5,
      jumpNSample: 2,
      eta: 0,
      generator: new Philox(2),
    });
  };
  const a = await run(edmF, EDM_CFG),
    b = await run(vpEps, VP_CFG);
  assert.ok(maxAbsDiff(a, b) < TOL, `max diff ${maxAbsDiff(a, b)}`);
});

test('img2img (DDIM, strength 0.6) on the EDM model = on the VP eps model', async () => {
  const run = async (fn: AsyncModelFn, cfg: Record<string, unknown>) => {
    const { scheduler, model } = editingSampler(fn, cfg, 'ddim', { overrides: { clip_sample: false } });
    return img2img(model, scheduler, { image: known, strength: 0.6, steps: 30, eta: 0.5, generator: new Philox(3) });
  };
  const a = await run(edmF, EDM_CFG),
    b = await run(vpEps, VP_CFG);
  assert.ok(maxAbsDiff(a, b) < TOL, `max diff ${maxAbsDiff(a, b)}`);
});

test('DDIM inversion, decoding and a slerp path on the EDM model = on the VP eps model', async () => {
  const zA = await ddimInvert(edmF, EDM_CFG, known, { steps: 40 });
  const zB = await ddimInvert(vpEps, VP_CFG, known, { steps: 40 });
  assert.ok(maxAbsDiff(zA, zB) < TOL, `noise: max diff ${maxAbsDiff(zA, zB)}`);
  const backA = await ddimDecode(edmF, EDM_CFG, zA, { steps: 40 });
  const backB = await ddimDecode(vpEps, VP_CFG, zB, { steps: 40 });
  assert.ok(maxAbsDiff(backA, backB) < TOL, `decode: max diff ${maxAbsDiff(backA, backB)}`);
  assert.ok(maxAbsDiff(backA, known) < 0.15, `reconstruction ${maxAbsDiff(backA, known)}`);
  const a = new NDArray([1, 2], zA.data.slice(0, 2)),
    b = new NDArray([1, 2], zA.data.slice(2, 4));
  const path = interpolationPath(a, b, 5);
  const pA = await ddimDecode(edmF, EDM_CFG, path, { steps: 40 });
  const pB = await ddimDecode(vpEps, VP_CFG, path, { steps: 40 });
  assert.ok(maxAbsDiff(pA, pB) < TOL, `path: max diff ${maxAbsDiff(pA, pB)}`);
});

test('classifier guidance through the eps view: EDM model = VP eps model = VP v-prediction model', async () => {
  // a fixed gradient field standing in for grad log p(y | x_t, t)
  const clf = {
    gradLogProb: async (x: NDArray, t: Float32Array) => ({
      grad: x.map((v, i) => (i % 2 === 0 ? 0.8 : -0.5) * (1 - t[0] / 1000) - 0.1 * v),
    }),
  };
  const ref = defaultAlphasCumprod();
  const vpV: AsyncModelFn = async (x, t) => {
    const a = ref[Math.round(t[0])];
    const eps = await vpEps(x, t);
    // v = sqrt(abar) eps - sqrt(1 - abar) x0, x0 = (x - sqrt(1 - abar) eps) / sqrt(abar)
    return eps.map((e, i) => Math.sqrt(a) * e - (Math.sqrt(1 - a) * (x.data[i] - Math.sqrt(1 - a) * e)) / Math.sqrt(a));
  };
  const run = async (fn: AsyncModelFn, cfg: Record<string, unknown>) => {
    const { scheduler, model } = editingSampler(fn, cfg, 'ddim', { epsilon: true, overrides: { clip_sample: false } });
    const guided = classifierGuidedModel(model, clf, {
      alphasCumprod: (scheduler as BetaScheduler).alphasCumprod,
      classLabels: new Array(8).fill(0),
      scale: 2,
    });
    return generate(guided, scheduler, { shape: [8, 2], steps: 20, generator: new Philox(4) });
  };
  const a = await run(edmF, EDM_CFG),
    b = await run(vpEps, VP_CFG),
    c = await run(vpV, { ...VP_CFG, prediction_type: 'v_prediction' });
  assert.ok(maxAbsDiff(a, b) < TOL, `EDM vs eps: max diff ${maxAbsDiff(a, b)}`);
  assert.ok(maxAbsDiff(c, b) < TOL, `v vs eps: max diff ${maxAbsDiff(c, b)}`);
  const unguided = await generate(vpEps, samplingScheduler('ddim', VP_CFG, { clip_sample: false }), {
    shape: [8, 2],
    steps: 20,
    generator: new Philox(4),
  });
  assert.ok(maxAbsDiff(b, unguided) > 0.05, 'the guidance moved the samples');
});
