/**
 * DPMSolverMultistepScheduler against diffusers' published test values
 * (huggingface/diffusers tests/schedulers/test_scheduler_dpm_multi.py, diffusers 0.37.0.dev0 — snapshot
 * ChrisColeTech/diffusers@725959a4 — with its get_scheduler_config(), full_loop() and tolerances), plus
 * config errors and the toConfig/fromConfig round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/rng.ts';
import { DPMSolverMultistepScheduler } from '../../src/samplers/dpmsolver_multistep.ts';
import { absMeanSum, closeToPublished, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

/** test_scheduler_dpm_multi.py: get_scheduler_config() */
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

/** test_scheduler_dpm_multi.py: full_loop() — 10 steps of dummy_model from dummy_sample_deter. */
function fullLoop(
  config: Record<string, unknown> = {},
  scheduler?: DPMSolverMultistepScheduler,
  customTimesteps = false,
): NDArray {
  let s = scheduler ?? new DPMSolverMultistepScheduler({ ...BASE, ...config });
  s.setTimesteps(10);
  if (customTimesteps) {
    const ts = Array.from(s.timesteps);
    s = new DPMSolverMultistepScheduler({ ...BASE, ...config });
    s.setTimesteps({ timesteps: ts });
  }
  const generator = new TorchGenerator(0); // torch.manual_seed(0)
  let x = dummyDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, { generator }).prevSample;
  return x;
}

const close = closeToPublished;

test('full loops reproduce diffusers test_full_loop_* result means', () => {
  close(absMeanSum(fullLoop()).mean, 0.3301, 1e-3, 'test_full_loop_no_noise');
  close(
    absMeanSum(fullLoop({ thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 })).mean,
    1.1364,
    1e-3,
    'test_full_loop_no_noise_thres',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction' })).mean,
    0.2251,
    1e-3,
    'test_full_loop_with_v_prediction',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true })).mean,
    0.2096,
    1e-3,
    'test_full_loop_with_karras_and_v_prediction',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction', use_lu_lambdas: true })).mean,
    0.1554,
    1e-3,
    'test_full_loop_with_lu_and_v_prediction',
  );
});

test('test_full_loop_with_noise: add_noise at timesteps[5], then 5 steps', () => {
  const s = new DPMSolverMultistepScheduler(BASE);
  s.setTimesteps(10);
  const ts = Array.from(s.timesteps).slice(5);
  let x = s.addNoise(dummyDeter(), dummyDeter(true), ts[0]);
  for (const t of ts) x = s.step(dummyModel(x, t), t, x).prevSample;
  const { sum, mean } = absMeanSum(x);
  close(sum, 318.4111, 1e-2, 'result_sum');
  close(mean, 0.4146, 1e-3, 'result_mean');
});

test('test_solver_order_and_type: every algorithm / solver / order / prediction runs without NaN', () => {
  for (const algorithm_type of ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++']) {
    for (const solver_type of ['midpoint', 'heun']) {
      for (const solver_order of [1, 2, 3]) {
        if (algorithm_type === 'sde-dpmsolver' && solver_order === 3) continue;
        for (const prediction_type of ['epsilon', 'sample']) {
          const x = fullLoop({ solver_order, solver_type, prediction_type, algorithm_type });
          assert.ok(
            x.data.every(Number.isFinite),
            `${algorithm_type}/${solver_type}/order ${solver_order}/${prediction_type} has NaN`,
          );
        }
      }
    }
  }
});

test('test_custom_timesteps: passing the same timesteps explicitly gives the same samples', () => {
  for (const algorithm_type of ['dpmsolver++', 'sde-dpmsolver++']) {
    for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
      for (const final_sigmas_type of ['sigma_min', 'zero']) {
        const cfg = { algorithm_type, prediction_type, final_sigmas_type };
        const a = fullLoop(cfg),
          b = fullLoop(cfg, undefined, true);
        let d = 0;
        for (let i = 0; i < a.size; i++) d += Math.abs(a.data[i] - b.data[i]);
        assert.ok(d < 1e-5, `${JSON.stringify(cfg)}: sum |diff| = ${d}`);
      }
    }
  }
});

test('test_duplicated_timesteps: 1000 steps on 1000 training steps', () => {
  const s = new DPMSolverMultistepScheduler(BASE);
  s.setTimesteps(1000);
  assert.equal(s.timesteps.length, s.numInferenceSteps);
  assert.equal(s.sigmas.length, 1001);
});

test('toConfig / fromConfig round trip (also through JSON) gives identical steps', () => {
  const cfg = {
    ...BASE,
    solver_order: 3,
    solver_type: 'heun',
    use_karras_sigmas: true,
    prediction_type: 'v_prediction',
    timestep_spacing: 'trailing',
    lower_order_final: true,
  };
  const a = new DPMSolverMultistepScheduler(cfg);
  const json = JSON.parse(JSON.stringify(a.toConfig()));
  assert.equal(json._class_name, 'DPMSolverMultistepScheduler');
  const b = DPMSolverMultistepScheduler.fromConfig(json);
  assert.equal(JSON.stringify(b.toConfig()), JSON.stringify(a.toConfig()));
  const xa = fullLoop({}, a),
    xb = fullLoop({}, b);
  assert.deepEqual(Array.from(xa.data), Array.from(xb.data));
  // -Infinity (lambda_min_clipped default) is written as null by JSON and read back as -Infinity
  assert.equal(b.config.lambda_min_clipped, null);
  assert.deepEqual(Array.from(b.timesteps), Array.from(a.timesteps));
});

test('configs of sibling schedulers load: algorithm_type deis -> dpmsolver++, solver_type logrho/bh2 -> midpoint', () => {
  const s = new DPMSolverMultistepScheduler({ algorithm_type: 'deis', solver_type: 'bh2' });
  assert.equal(s.config.algorithm_type, 'dpmsolver++');
  assert.equal(s.config.solver_type, 'midpoint');
  // a DDPM config (variance_type 'fixed_small', clip_sample) loads; unknown-to-all keys are reported
  const d = new DPMSolverMultistepScheduler({ variance_type: 'fixed_small', clip_sample: true, not_a_key: 1 });
  assert.equal(d.config.variance_type, 'fixed_small');
});

test('learned-range models: the variance channels are dropped', () => {
  const plain = new DPMSolverMultistepScheduler(BASE);
  const learned = new DPMSolverMultistepScheduler({ ...BASE, variance_type: 'learned_range' });
  plain.setTimesteps(10);
  learned.setTimesteps(10);
  let x1 = dummyDeter(),
    x2 = dummyDeter();
  for (const t of plain.timesteps) {
    const eps = dummyModel(x1, t);
    x1 = plain.step(eps, t, x1).prevSample;
    // model output [B, 2C, H, W]: mean channels then (arbitrary) variance channels
    const out = new NDArray([4, 6, 8, 8]);
    const e2 = dummyModel(x2, t);
    for (let b = 0; b < 4; b++) {
      out.data.set(e2.data.subarray(b * 192, (b + 1) * 192), b * 384);
      out.data.fill(7, b * 384 + 192, (b + 1) * 384);
    }
    x2 = learned.step(out, t, x2).prevSample;
  }
  assert.deepEqual(Array.from(x1.data), Array.from(x2.data));
});

test('bad configs name the key, the value and the allowed values', () => {
  assert.throws(
    () => new DPMSolverMultistepScheduler({ solver_order: 4 }),
    /solver_order = 4 must be <= 3 \(allowed values: 1, 2, 3\)/,
  );
  assert.throws(() => new DPMSolverMultistepScheduler({ solver_order: 0 }), /solver_order = 0 must be >= 1/);
  assert.throws(
    () => new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver+++' }),
    /algorithm_type = "dpmsolver\+\+\+" is not supported; allowed values: 'dpmsolver', 'dpmsolver\+\+', 'sde-dpmsolver', 'sde-dpmsolver\+\+'/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ solver_type: 'rk4' }),
    /solver_type = "rk4" is not supported; allowed values: 'midpoint', 'heun'/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ final_sigmas_type: 'one' }),
    /final_sigmas_type = "one" is not supported; allowed values: 'zero', 'sigma_min'/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver' }),
    /final_sigmas_type = 'zero' is not supported for algorithm_type = 'dpmsolver'/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ use_karras_sigmas: true, use_exponential_sigmas: true }),
    /only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be true/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ use_flow_sigmas: true }),
    /use_flow_sigmas = true is not supported/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ beta_schedule: 'sigmoid' }),
    /beta_schedule = "sigmoid" is not supported; allowed values: 'linear', 'scaled_linear', 'squaredcos_cap_v2'/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ prediction_type: 'flow_prediction' }),
    /prediction_type = "flow_prediction" is not supported/,
  );
  assert.throws(
    () => new DPMSolverMultistepScheduler({ lambda_min_clipped: 'low' }),
    /lambda_min_clipped = "low" must be a number/,
  );
});

test('bad calls get clear errors', () => {
  const s = new DPMSolverMultistepScheduler({ ...BASE, algorithm_type: 'sde-dpmsolver++' });
  const x = dummyDeter();
  assert.throws(() => s.step(x, 999, x), /call setTimesteps/);
  s.setTimesteps(10);
  assert.throws(() => s.step(x, 999, x), /is stochastic; pass \{ generator \} or \{ varianceNoise \}/);
  assert.throws(() => s.setTimesteps({ timesteps: [10, 500] }), /descending/);
  assert.throws(() => s.setTimesteps(0), /num_inference_steps = 0 must be a positive integer/);
  const k = new DPMSolverMultistepScheduler({ use_karras_sigmas: true });
  assert.throws(
    () => k.setTimesteps({ timesteps: [999, 500] }),
    /custom timesteps cannot be combined with the 'karras' sigma grid/,
  );
  const d = new DPMSolverMultistepScheduler(BASE);
  d.setTimesteps(2);
  d.step(x, d.timesteps[0], x);
  d.step(x, d.timesteps[1], x);
  assert.throws(() => d.step(x, d.timesteps[1], x), /called 3 times but the schedule has 2 timesteps/);
  const e = new DPMSolverMultistepScheduler(BASE);
  e.setTimesteps(2);
  assert.throws(
    () => e.step(NDArray.zeros([1, 3]), e.timesteps[0], x),
    /model output shape \[1, 3\] differs from sample shape \[4, 3, 8, 8\]/,
  );
});

test('varianceNoise replaces the generator draw (same noise -> same step)', () => {
  const a = new DPMSolverMultistepScheduler({ ...BASE, algorithm_type: 'sde-dpmsolver++' });
  const b = new DPMSolverMultistepScheduler({ ...BASE, algorithm_type: 'sde-dpmsolver++' });
  a.setTimesteps(10);
  b.setTimesteps(10);
  const x = dummyDeter();
  const t = a.timesteps[0];
  const ya = a.step(dummyModel(x, t), t, x, { generator: new TorchGenerator(3) }).prevSample;
  const yb = b.step(dummyModel(x, t), t, x, { varianceNoise: new TorchGenerator(3).normal(x.shape) }).prevSample;
  assert.deepEqual(Array.from(ya.data), Array.from(yb.data));
});

test("addNoise before setTimesteps uses the noise level of timestep t (DDPM eq. 4), not diffusers' reversed index", () => {
  const s = new DPMSolverMultistepScheduler(BASE);
  // closed form: alphaBar_t = prod_{i<=t} (1 - beta_i), beta linear from 1e-4 to 0.02 over 1000 steps
  let abar = 1;
  for (let i = 0; i <= 10; i++) abar *= 1 - (1e-4 + (i * (0.02 - 1e-4)) / 999);
  const x = s.addNoise(NDArray.ones([1, 1]), NDArray.zeros([1, 1]), 10).item();
  assert.ok(Math.abs(x - Math.sqrt(abar)) < 1e-6, `sqrt(alphaBar_10): got ${x}, want ${Math.sqrt(abar)}`);
  const y = s.addNoise(NDArray.zeros([1, 1]), NDArray.ones([1, 1]), 10).item();
  assert.ok(Math.abs(y - Math.sqrt(1 - abar)) < 1e-6, `sqrt(1 - alphaBar_10): got ${y}`);
  assert.throws(
    () => s.addNoise(NDArray.ones([1, 1]), NDArray.zeros([1, 1]), 1000),
    /timestep 1000 must be an integer in \[0, 999\]/,
  );
});
