/**
 * ScoreSdeVeScheduler against diffusers' own predictor-corrector loop (the ScoreSdeVePipeline loop, run by
 * tools/fixtures/diffusers_edm_sde.py on diffusers@58eb52c under PyTorch 1.13 -> test/fixtures/diffusers/score_sde_ve.json):
 * timesteps, sigma tables, every corrector and predictor call (sum, abs_sum, number of normal draws), the final
 * sample and its mean, add_noise; noise from TorchGenerator (torch.manual_seed). Also diffusers' published
 * test_full_loop_no_noise value (tests/schedulers/test_scheduler_score_sde_ve.py).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { ScoreSdeVeScheduler } from '../../src/samplers/score_sde_ve.ts';
import { allClose, close, noise0 } from './_fixture_runner.ts';
import { dummyDeter, dummyModel } from './_diffusers_dummy.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/diffusers/score_sde_ve.json', import.meta.url), 'utf8'));

function stats(x: NDArray) {
  let s = 0,
    a = 0;
  for (const v of x.data) {
    s += v;
    a += Math.abs(v);
  }
  return { sum: s, abs_sum: a };
}

/** Counts the normal draws of a generator. */
function counting(g: TorchGenerator) {
  let n = 0;
  return {
    gen: {
      normal: (shape: readonly number[]) => {
        n++;
        return g.normal(shape);
      },
      uniform: (shape: readonly number[]) => g.uniform(shape),
    },
    draws: () => n,
  };
}

for (const c of fx.cases) {
  test(`ScoreSdeVeScheduler ${c.id} equals diffusers' PC loop`, () => {
    const s = ScoreSdeVeScheduler.fromConfig(c.config);
    const cfg = s.toConfig();
    for (const [k, v] of Object.entries(c.full_config)) assert.deepEqual(cfg[k], v, `config key ${k}`);
    s.setTimesteps(c.num_inference_steps);
    allClose(Array.from(s.timesteps), c.timesteps, 1e-7, 0, 'timesteps');
    allClose(s.sigmas, c.sigmas, 2e-6, 0, 'sigmas');
    allClose(s.discreteSigmas, c.discrete_sigmas, 2e-6, 0, 'discrete_sigmas');
    assert.equal(s.initNoiseSigma, c.init_noise_sigma);
    const sample0 = new NDArray(fx.sample_shape, Float32Array.from(fx.sample0_values));
    let x = sample0.mulScalar(s.initNoiseSigma);
    const { gen, draws } = counting(new TorchGenerator(c.seed));
    let k = 0,
      mean = x;
    s.timesteps.forEach((t, i) => {
      for (let j = 0; j < s.config.correct_steps; j++) {
        const before = draws();
        x = s.stepCorrect(dummyModel(x, s.sigmas[i]), x, { generator: gen as never }).prevSample;
        const ref = c.calls[k++];
        assert.equal(ref.kind, 'correct');
        assert.equal(draws() - before, ref.randn);
        close(stats(x).sum, ref.sum, 2e-5, 1e-6 * ref.abs_sum, `${c.id} step ${i} corrector ${j} sum`);
        close(stats(x).abs_sum, ref.abs_sum, 2e-5, 0, `${c.id} step ${i} corrector ${j} abs_sum`);
      }
      const before = draws();
      const out = s.stepPred(dummyModel(x, s.sigmas[i]), t, x, { generator: gen as never });
      x = out.prevSample;
      mean = out.prevSampleMean;
      const ref = c.calls[k++];
      assert.equal(ref.kind, 'pred');
      assert.equal(draws() - before, ref.randn);
      close(stats(x).sum, ref.sum, 2e-5, 1e-6 * ref.abs_sum, `${c.id} step ${i} predictor sum`);
      close(stats(x).abs_sum, ref.abs_sum, 2e-5, 0, `${c.id} step ${i} predictor abs_sum`);
      close(stats(mean).abs_sum, ref.mean_abs_sum, 2e-5, 0, `${c.id} step ${i} predictor mean abs_sum`);
    });
    assert.equal(k, c.calls.length);
    const maxAbs = c.final.reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 0);
    allClose(x.data, c.final, 2e-5, 1e-6 * maxAbs, `${c.id} final`);
    allClose(mean.data, c.final_mean, 2e-5, 1e-6 * maxAbs, `${c.id} final mean`);
    const noisy = s.addNoise(sample0, noise0(fx.sample_shape), c.add_noise.timesteps);
    allClose(noisy.data, c.add_noise.result, 1e-6, 1e-7, `${c.id} add_noise`);
  });
}

test("ScoreSdeVeScheduler reproduces diffusers' published test_full_loop_no_noise (sum 14372758528.0, mean 18714530.0)", () => {
  // test_scheduler_score_sde_ve.py: config {num_train_timesteps: 2000, snr: 0.15, sigma_min: 0.01, sigma_max: 1348, sampling_eps: 1e-5}, 3 steps,
  // dummy_sample_deter [4, 3, 8, 8] (not multiplied by init_noise_sigma), generator torch.manual_seed(0)
  // The test calls set_sigmas(3) before set_timesteps(3): sigma(t) is then evaluated on the constructor's
  // 2000 timesteps, so the model sees sigma(1), sigma(0.9995), sigma(0.999); the predictor table has 3 values.
  const s = ScoreSdeVeScheduler.fromConfig({
    num_train_timesteps: 2000,
    snr: 0.15,
    sigma_min: 0.01,
    sigma_max: 1348,
    sampling_eps: 1e-5,
  });
  s.setSigmas(3);
  const modelSigmas = s.sigmas.slice(0, 3);
  s.setTimesteps(3);
  const gen = new TorchGenerator(0);
  let x = dummyDeter(false, [4, 3, 8, 8]);
  s.timesteps.forEach((t, i) => {
    for (let j = 0; j < s.config.correct_steps; j++)
      x = s.stepCorrect(dummyModel(x, modelSigmas[i]), x, { generator: gen }).prevSample;
    x = s.stepPred(dummyModel(x, modelSigmas[i]), t, x, { generator: gen }).prevSample;
  });
  const abs = stats(x).abs_sum;
  // diffusers asserts np.isclose (rtol 1e-5, atol 1e-8)
  close(abs, 14372758528.0, 1e-5, 1e-8, 'sum |x|');
  close(abs / x.size, 18714530.0, 1e-5, 1e-8, 'mean |x|');
});

test('ScoreSdeVeScheduler errors name the key and value', () => {
  assert.throws(() => ScoreSdeVeScheduler.fromConfig({ sigma_min: 2, sigma_max: 1 }), /sigma_min = 2, sigma_max = 1/);
  assert.throws(() => ScoreSdeVeScheduler.fromConfig({ correct_steps: -1 }), /correct_steps = -1 must be >= 0/);
  const s = ScoreSdeVeScheduler.fromConfig({});
  s.setTimesteps(4);
  const x = new NDArray([1, 2], [1, 2]);
  assert.throws(() => s.stepPred(x, 0.5, x, {}), /generator/);
});
