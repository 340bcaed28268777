/**
 * LCMScheduler and CMStochasticIterativeScheduler against diffusers' own step loops (run by
 * tools/fixtures/diffusers_consistency.py on diffusers@58eb52c under PyTorch 1.13 ->
 * test/fixtures/diffusers/{lcm,cm_stochastic_iterative}.json): the full config, timesteps, sigmas, every step's
 * model input, prev_sample and denoised element by element, the number of normal draws per step, add_noise and
 * get_velocity. Noise comes from TorchGenerator (torch.manual_seed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { LCMScheduler } from '../../src/samplers/lcm.ts';
import { CMStochasticIterativeScheduler } from '../../src/samplers/cm_stochastic_iterative.ts';
import { schedulerFromConfig, type Scheduler } from '../../src/samplers/scheduler.ts';
import { allClose, noise0 } from './_fixture_runner.ts';
import { dummyModel } from './_diffusers_dummy.ts';

function load(name: string) {
  return JSON.parse(readFileSync(new URL(`../fixtures/diffusers/${name}.json`, import.meta.url), 'utf8'));
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

const maxAbs = (v: number[]) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/** Elementwise: float32 rounding accumulated over a few steps (values are O(1) or scaled by sigma_max). */
function sameTensor(got: NDArray, want: number[], what: string): void {
  allClose(got.data, want, 2e-6, 2e-6 * maxAbs(want), what);
}

function setTimestepsArg(c: { set_timesteps: Record<string, unknown> }) {
  const st = c.set_timesteps;
  return {
    numInferenceSteps: (st.num_inference_steps ?? undefined) as number | undefined,
    timesteps: st.timesteps as number[] | undefined,
    originalInferenceSteps: st.original_inference_steps as number | undefined,
    strength: st.strength as number | undefined,
  };
}

function checkConfig(s: Scheduler, full: Record<string, unknown>): void {
  const cfg = s.toConfig();
  for (const [k, v] of Object.entries(full)) assert.deepEqual(cfg[k], v, `config key ${k}`);
  for (const k of Object.keys(s.config)) assert.ok(k in full, `config key ${k} is not a diffusers key`);
}

const lcm = load('lcm');
for (const c of lcm.cases) {
  test(`LCMScheduler ${c.id} equals diffusers' loop`, () => {
    const s = LCMScheduler.fromConfig(c.config);
    checkConfig(s, c.full_config);
    s.setTimesteps(setTimestepsArg(c));
    assert.deepEqual(Array.from(s.timesteps), c.timesteps, 'timesteps');
    assert.equal(s.numInferenceSteps, c.num_inference_steps);
    assert.equal(s.initNoiseSigma, c.init_noise_sigma);
    let x = new NDArray(lcm.sample_shape, Float32Array.from(lcm.sample0_values)).mulScalar(s.initNoiseSigma);
    const { gen, draws } = counting(new TorchGenerator(c.seed ?? 0));
    s.timesteps.forEach((t, i) => {
      const ref = c.steps[i];
      assert.equal(t, ref.t);
      const mi = s.scaleModelInput(x, t);
      sameTensor(mi, ref.model_input, `${c.id} step ${i} model input`);
      const before = draws();
      const out = s.step(dummyModel(mi, t), t, x, c.seed === null ? {} : { generator: gen as never });
      assert.equal(draws() - before, ref.randn, `${c.id} step ${i} normal draws`);
      sameTensor(out.denoised, ref.denoised, `${c.id} step ${i} denoised`);
      sameTensor(out.prevSample, ref.prev_sample, `${c.id} step ${i} prev_sample`);
      x = out.prevSample;
    });
    assert.deepEqual(
      Array.from(s.timesteps, (t) => s.previousTimestep(t)),
      c.previous_timesteps,
      'previous_timestep',
    );
    s.timesteps.forEach((t, i) => {
      const { cSkip, cOut } = s.getScalingsForBoundaryConditionDiscrete(t);
      allClose([cSkip, cOut], c.boundary_scalings[i], 1e-7, 0, `boundary scalings at t = ${t}`);
    });
    if (c.add_noise) {
      const x0 = new NDArray(lcm.sample_shape, Float32Array.from(lcm.sample0_values));
      const n = noise0(lcm.sample_shape);
      sameTensor(s.addNoise(x0, n, c.add_noise.timesteps), c.add_noise.result, 'add_noise');
      sameTensor(s.getVelocity(x0, n, c.add_noise.timesteps), c.add_noise.velocity, 'get_velocity');
    }
  });
}

const cm = load('cm_stochastic_iterative');
for (const c of cm.cases) {
  test(`CMStochasticIterativeScheduler ${c.id} equals diffusers' loop`, () => {
    const s = CMStochasticIterativeScheduler.fromConfig(c.config);
    checkConfig(s, c.full_config);
    if (c.init_timesteps) {
      allClose(s.timesteps, c.init_timesteps, 1e-13, 1e-12, 'initial timesteps');
      allClose(s.sigmas, c.init_sigmas, 1e-13, 0, 'initial sigmas');
    }
    s.setTimesteps(setTimestepsArg(c));
    allClose(s.timesteps, c.timesteps, 1e-13, 1e-12, 'timesteps');
    assert.deepEqual(Array.from(s.sigmas), c.sigmas.map(Math.fround), 'sigmas (float32)');
    assert.equal(s.initNoiseSigma, c.init_noise_sigma);
    let x = new NDArray(cm.sample_shape, Float32Array.from(cm.sample0_values)).mulScalar(s.initNoiseSigma);
    const { gen, draws } = counting(new TorchGenerator(c.seed ?? 0));
    s.timesteps.forEach((t, i) => {
      const ref = c.steps[i];
      const mi = s.scaleModelInput(x, t);
      sameTensor(mi, ref.model_input, `${c.id} step ${i} model input`);
      const before = draws();
      const out = s.step(dummyModel(mi, t), t, x, c.seed === null ? {} : { generator: gen as never });
      assert.equal(draws() - before, ref.randn, `${c.id} step ${i} normal draws`);
      sameTensor(out.denoised, ref.denoised, `${c.id} step ${i} denoised`);
      sameTensor(out.prevSample, ref.prev_sample, `${c.id} step ${i} prev_sample`);
      x = out.prevSample;
    });
    assert.deepEqual(s.warnings, [], 'no scale_model_input warning');
    s.sigmas.forEach((sigma, i) => {
      const a = s.getScalings(sigma),
        b = s.getScalingsForBoundaryCondition(sigma);
      allClose([a.cSkip, a.cOut], c.scalings[i], 1e-7, 0, `scalings at sigma = ${sigma}`);
      allClose([b.cSkip, b.cOut], c.boundary_scalings[i], 1e-7, 0, `boundary scalings at sigma = ${sigma}`);
    });
    allClose(s.sigmaToT(s.sigmas.subarray(0, -1)), c.timesteps, 1e-6, 1e-4, 'sigma_to_t of the float32 sigmas');
    if (c.add_noise) {
      const fresh = CMStochasticIterativeScheduler.fromConfig(c.config);
      fresh.setTimesteps(setTimestepsArg(c));
      const x0 = new NDArray(cm.sample_shape, Float32Array.from(cm.sample0_values));
      const noisy = fresh.addNoise(x0, noise0(cm.sample_shape), c.add_noise.timesteps);
      sameTensor(noisy, c.add_noise.result, 'add_noise');
    }
  });
}

test('LCM and CM configs round-trip through _class_name and save/fromPretrained', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'consistency-'));
  try {
    const a = LCMScheduler.fromConfig({ original_inference_steps: 25, timestep_scaling: 5 });
    await a.savePretrained(dir);
    const b = await LCMScheduler.fromPretrained(dir);
    assert.deepEqual(b.toConfig(), a.toConfig());
    const c = schedulerFromConfig(null, { _class_name: 'CMStochasticIterativeScheduler', sigma_data: 0.25, rho: 5 });
    assert.ok(c instanceof CMStochasticIterativeScheduler);
    assert.equal(c.config.sigma_data, 0.25);
    assert.equal(c.config.num_train_timesteps, 40);
    // the from_config swap keeps the other class's keys as hidden config
    const back = LCMScheduler.fromConfig(CMStochasticIterativeScheduler.fromConfig(a.toConfig()).toConfig());
    assert.equal(back.config.original_inference_steps, 25);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('consistency schedulers: errors name the option and value', () => {
  assert.throws(() => LCMScheduler.fromConfig({ prediction_type: 'score' }), /prediction_type = "score"/);
  const s = LCMScheduler.fromConfig({});
  assert.throws(() => s.setTimesteps(51), /50 x 1 gives 50 grid timesteps, fewer than numInferenceSteps = 51/);
  assert.throws(() => s.setTimesteps({ timesteps: [259, 499] }), /descending/);
  assert.throws(() => s.setTimesteps({ numInferenceSteps: 4, strength: 0 }), /strength = 0 must be in \(0, 1\]/);
  assert.throws(() => s.setTimesteps({ numInferenceSteps: 30, strength: 0.5 }), /50 x 0.5 gives 25 grid timesteps/);
  s.setTimesteps(4);
  const x = new NDArray([1, 2], [0.1, 0.2]);
  assert.throws(() => s.step(x, 999, x), /generator/);
  s.setTimesteps(4);
  assert.throws(() => s.step(x, 998, x), /timestep 998 is not in the current schedule/);
  assert.throws(() => CMStochasticIterativeScheduler.fromConfig({ sigma_min: 5, sigma_max: 1 }), /sigma_min = 5/);
  const c = CMStochasticIterativeScheduler.fromConfig({});
  assert.throws(() => c.setTimesteps(41), /numInferenceSteps = 41 cannot be larger than num_train_timesteps = 40/);
  assert.throws(() => c.setTimesteps({ timesteps: [40, 0] }), /timesteps\[0\] = 40/);
  c.setTimesteps(2);
  assert.throws(() => c.step(x, 0, x), /integer index/);
  assert.throws(() => c.step(x, c.timesteps[0], x), /generator/);
});
