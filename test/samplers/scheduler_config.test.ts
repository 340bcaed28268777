/**
 * Config handling of the scheduler classes: diffusers' scheduler_config.json loads unchanged, toConfig /
 * fromConfig round-trips to identical steps, classes can be swapped on one config (diffusers' from_config),
 * and bad configs fail with errors naming the key, the value and the allowed values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import {
  DDIMInverseScheduler,
  DDIMScheduler,
  DDPMScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  HeunDiscreteScheduler,
  KDPM2DiscreteScheduler,
  LMSDiscreteScheduler,
  PNDMScheduler,
  registeredSchedulers,
  type Scheduler,
  schedulerFromConfig,
} from '../../src/samplers/index.ts';
import { dummyModel } from './_fixture_runner.ts';

const CLASSES = [
  DDPMScheduler,
  DDIMScheduler,
  DDIMInverseScheduler,
  PNDMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  HeunDiscreteScheduler,
  KDPM2DiscreteScheduler,
  LMSDiscreteScheduler,
];

// Stable Diffusion v1.5's scheduler/scheduler_config.json, verbatim
const SD15 = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}`;

function run(s: Scheduler, steps = 6): NDArray {
  s.setTimesteps(steps);
  const g = new TorchGenerator(3);
  let x = new NDArray([1, 2, 2, 2], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]).mulScalar(s.initNoiseSigma);
  for (const t of s.timesteps) x = s.step(dummyModel(s.scaleModelInput(x, t), t), t, x, { generator: g }).prevSample;
  return x;
}

test('every class is registered under its diffusers name', () => {
  for (const c of CLASSES) assert.ok(registeredSchedulers().includes(c.className), c.className);
});

test('Stable Diffusion 1.5 scheduler_config.json loads as is (keys of other classes ignored silently, like diffusers)', () => {
  const s = schedulerFromConfig(null, SD15);
  assert.ok(s instanceof PNDMScheduler);
  assert.deepEqual(s.warnings, []);
  assert.equal(s.config.steps_offset, 1);
  s.setTimesteps(5);
  assert.deepEqual(Array.from(s.timesteps), [801, 601, 601, 401, 201, 1]);
  const cfg = s.toConfig();
  assert.equal(cfg._class_name, 'PNDMScheduler');
  assert.equal(cfg._diffusers_version, '0.6.0');
  assert.equal(cfg.prediction_type, 'epsilon'); // default filled in
});

test('toConfig -> fromConfig round trip gives identical steps, for every class', () => {
  for (const C of CLASSES) {
    const cfg = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, timestep_spacing: 'trailing' };
    const a = (C as unknown as typeof DDPMScheduler).fromConfig(cfg);
    const json = JSON.stringify(a.toConfig());
    const b = schedulerFromConfig(null, json);
    assert.equal(b.constructor, C);
    assert.deepEqual(b.toConfig(), a.toConfig(), C.className);
    assert.deepEqual(
      Array.from(run(b).data),
      Array.from(run(a).data),
      `${C.className}: identical samples after round trip`,
    );
  }
});

test('swapping classes on one config works like diffusers XScheduler.from_config(other.config)', () => {
  const ddim = DDIMScheduler.fromConfig({
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    beta_end: 0.012,
    clip_sample: false,
    set_alpha_to_one: false,
    steps_offset: 1,
  });
  for (const C of CLASSES) {
    const s = schedulerFromConfig(C.className, ddim.toConfig());
    assert.equal(s.className, C.className);
    assert.deepEqual(s.warnings, [], `${C.className}: no warnings for keys of other schedulers`);
    assert.equal(s.config.beta_schedule, 'scaled_linear');
    assert.deepEqual(
      Array.from((s as unknown as { betas: Float32Array }).betas),
      Array.from(ddim.betas),
      `${C.className} betas`,
    );
    assert.ok(
      !('set_alpha_to_one' in s.config) || C === PNDMScheduler || C === DDIMInverseScheduler || C === DDIMScheduler,
    );
  }
  const euler = EulerDiscreteScheduler.fromConfig(ddim.toConfig());
  assert.equal(euler.toConfig()._class_name, 'EulerDiscreteScheduler');
  // DDIM's timestep_spacing 'leading' was only its default (listed in _use_default_values), so Euler
  // falls back to its own default 'linspace', as diffusers' from_config does; explicit keys carry over
  assert.equal(euler.config.timestep_spacing, 'linspace');
  assert.equal(euler.config.steps_offset, 1);
  assert.ok((ddim.toConfig()._use_default_values as string[]).includes('timestep_spacing'));
  const explicit = DDIMScheduler.fromConfig({ timestep_spacing: 'trailing' });
  assert.equal(EulerDiscreteScheduler.fromConfig(explicit.toConfig()).config.timestep_spacing, 'trailing');
});

test('keys of other schedulers survive a switch (diffusers hidden config): DDIM -> Euler -> PNDM -> DDIM returns to the same settings', () => {
  // diffusers' from_config registers the keys the target class does not take as hidden config
  // (configuration_utils.extract_init_dict, step 7), so they come back when switching back (test_switch)
  const ddim = DDIMScheduler.fromConfig({
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    beta_end: 0.012,
    clip_sample: false,
    set_alpha_to_one: false,
    thresholding: true,
    timestep_spacing: 'trailing',
  });
  const euler = EulerDiscreteScheduler.fromConfig(ddim.toConfig());
  assert.ok(!('clip_sample' in euler.config));
  assert.equal(euler.toConfig().clip_sample, false);
  assert.equal(euler.toConfig().set_alpha_to_one, false);
  const pndm = PNDMScheduler.fromConfig(JSON.parse(JSON.stringify(euler.toConfig())));
  assert.equal(pndm.config.set_alpha_to_one, false);
  const back = DDIMScheduler.fromConfig(JSON.parse(JSON.stringify(pndm.toConfig())));
  assert.deepEqual(back.config, ddim.config);
  assert.deepEqual(Array.from(run(back).data), Array.from(run(ddim).data));
});

test('unknown config keys are ignored with a warning naming them', () => {
  const s = DDPMScheduler.fromConfig({ num_train_timesteps: 100, foo_bar: 3 });
  assert.equal(s.warnings.length, 1);
  assert.match(
    s.warnings[0],
    /The config attributes \{"foo_bar":3\} were passed to DDPMScheduler, but are not expected and will be ignored/,
  );
  assert.ok(!('foo_bar' in s.toConfig()));
});

test('bad configs throw errors naming the key, the value and the allowed values', () => {
  assert.throws(
    () => DDPMScheduler.fromConfig({ beta_schedule: 'cosine' }),
    /DDPMScheduler config: beta_schedule = "cosine" is not supported; allowed values: 'linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid', 'laplace'/,
  );
  assert.throws(
    () => DDIMScheduler.fromConfig({ beta_schedule: 'sigmoid' }),
    /DDIMScheduler config: beta_schedule = "sigmoid" is not supported; allowed values: 'linear', 'scaled_linear', 'squaredcos_cap_v2'/,
  );
  assert.throws(
    () => DDIMScheduler.fromConfig({ prediction_type: 'eps' }),
    /prediction_type = "eps" is not supported; allowed values: 'epsilon', 'sample', 'v_prediction'/,
  );
  assert.throws(
    () => PNDMScheduler.fromConfig({ prediction_type: 'sample' }),
    /PNDMScheduler config: prediction_type = "sample" is not supported; allowed values: 'epsilon', 'v_prediction'/,
  );
  assert.throws(
    () => EulerDiscreteScheduler.fromConfig({ timestep_spacing: 'uniform' }),
    /timestep_spacing = "uniform" is not supported; allowed values: 'linspace', 'leading', 'trailing'/,
  );
  assert.throws(
    () => DDPMScheduler.fromConfig({ variance_type: 'fixed' }),
    /variance_type = "fixed" is not supported; allowed values: 'fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log', 'learned', 'learned_range'/,
  );
  assert.throws(
    () => DDPMScheduler.fromConfig({ num_train_timesteps: '1000' }),
    /num_train_timesteps = "1000" must be an integer/,
  );
  assert.throws(() => DDPMScheduler.fromConfig({ num_train_timesteps: 0 }), /num_train_timesteps = 0 must be >= 1/);
  assert.throws(() => DDPMScheduler.fromConfig({ clip_sample: 'yes' }), /clip_sample = "yes" must be true or false/);
  assert.throws(
    () => DDPMScheduler.fromConfig({ trained_betas: [0.1, 'x'] }),
    /trained_betas\[1\] = "x" must be a finite number/,
  );
  assert.throws(
    () => DDPMScheduler.fromConfig({ num_train_timesteps: 4, trained_betas: [0.1, 0.2] }),
    /trained_betas has 2 values but num_train_timesteps = 4/,
  );
  assert.throws(
    () => EulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true, use_exponential_sigmas: true }),
    /only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be true/,
  );
  assert.throws(
    () => schedulerFromConfig('FooScheduler', {}),
    /scheduler "FooScheduler" is not known; allowed values: .*'DDPMScheduler'/,
  );
});

test('bad setTimesteps / step arguments throw clear errors', () => {
  for (const C of [DDPMScheduler, DDIMScheduler, DDIMInverseScheduler, PNDMScheduler]) {
    const s = (C as unknown as typeof DDPMScheduler).fromConfig({ num_train_timesteps: 100 });
    assert.throws(
      () => s.setTimesteps(101),
      /num_inference_steps = 101 cannot be larger than num_train_timesteps = 100/,
      C.className,
    );
    assert.throws(() => s.setTimesteps(0), /num_inference_steps = 0 must be a positive integer/, C.className);
  }
  const ddim = DDIMScheduler.fromConfig({});
  const x = NDArray.ones([1, 2]);
  assert.throws(() => ddim.step(x, 999, x), /call setTimesteps/);
  ddim.setTimesteps(10);
  assert.throws(() => ddim.step(x, 900, x, { eta: -0.5 }), /eta = -0.5 must be a finite number >= 0/);
  assert.throws(() => ddim.step(x, 900, x, { eta: 1 }), /this step draws noise; pass \{ generator \}/);
  assert.throws(() => ddim.step(x, 1000, x), /timestep = 1000 must be an integer in \[0, 999\]/);
  const euler = EulerDiscreteScheduler.fromConfig({ timestep_spacing: 'leading' });
  assert.throws(
    () => euler.setTimesteps(1001),
    /cannot be larger than num_train_timesteps = 1000 with timestep_spacing 'leading'/,
  );
  euler.setTimesteps(10);
  assert.throws(() => euler.step(x, 123.5, x), /timestep 123.5 is not in the current schedule/);
  const ea = EulerAncestralDiscreteScheduler.fromConfig({});
  ea.setTimesteps(5);
  assert.throws(() => ea.step(x, ea.timesteps[0], x), /pass \{ generator \}/);
});
