/**
 * DPMSolverSinglestepScheduler against diffusers' published test values
 * (tests/schedulers/test_scheduler_dpm_single.py, diffusers 0.37.0.dev0 snapshot ChrisColeTech/diffusers@725959a4:
 * its get_scheduler_config(), full_loop() and tolerances), the order list, config errors and round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/rng.ts';
import { DPMSolverSinglestepScheduler, getOrderList } from '../../src/samplers/dpmsolver_singlestep.ts';
import { absMeanSum, closeToPublished, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

/** test_scheduler_dpm_single.py: get_scheduler_config() */
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
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

function run(
  s: DPMSolverSinglestepScheduler,
  steps = 10,
  from = 0,
  x: NDArray = dummyDeter(),
  generator?: TorchGenerator,
): NDArray {
  s.setTimesteps(steps);
  for (const t of Array.from(s.timesteps).slice(from)) x = s.step(dummyModel(x, t), t, x, { generator }).prevSample;
  return x;
}
const fullLoop = (config: Record<string, unknown> = {}) =>
  run(new DPMSolverSinglestepScheduler({ ...BASE, ...config }), 10, 0, dummyDeter(), new TorchGenerator(0));

const close = closeToPublished;

test('full loops reproduce diffusers test_full_loop_* result means', () => {
  close(absMeanSum(fullLoop()).mean, 0.2791, 1e-3, 'test_full_loop_no_noise');
  close(absMeanSum(fullLoop({ use_karras_sigmas: true })).mean, 0.2248, 1e-3, 'test_full_loop_with_karras');
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction' })).mean,
    0.1453,
    1e-3,
    'test_full_loop_with_v_prediction',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true })).mean,
    0.0649,
    1e-3,
    'test_full_loop_with_karras_and_v_prediction',
  );
});

test('test_full_uneven_loop: 50 steps, starting at the 4th timestep (order lowered for missing outputs)', () => {
  const x = run(new DPMSolverSinglestepScheduler(BASE), 50, 3);
  close(absMeanSum(x).mean, 0.2574, 1e-3, 'test_full_uneven_loop');
});

test('test_full_loop_with_noise: add_noise at timesteps[5], then 5 steps', () => {
  const s = new DPMSolverSinglestepScheduler(BASE);
  s.setTimesteps(10);
  const ts = Array.from(s.timesteps).slice(5);
  let x = s.addNoise(dummyDeter(), dummyDeter(true), ts[0]);
  for (const t of ts) x = s.step(dummyModel(x, t), t, x).prevSample;
  close(absMeanSum(x).sum, 269.2187, 1e-2, 'result_sum');
  close(absMeanSum(x).mean, 0.3505, 1e-3, 'result_mean');
});

test('test_solver_order_and_type: every algorithm / solver / order / prediction runs without NaN', () => {
  for (const algorithm_type of ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver++']) {
    for (const solver_type of ['midpoint', 'heun']) {
      for (const solver_order of [1, 2, 3]) {
        for (const prediction_type of ['epsilon', 'sample']) {
          const x = fullLoop({ solver_order, solver_type, prediction_type, algorithm_type });
          assert.ok(
            x.data.every(Number.isFinite),
            `${algorithm_type}/${solver_type}/${solver_order}/${prediction_type} has NaN`,
          );
        }
      }
    }
  }
});

test('test_custom_timesteps: explicit timesteps give the same samples', () => {
  for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
    for (const lower_order_final of [true, false]) {
      for (const final_sigmas_type of ['sigma_min', 'zero']) {
        const cfg = { ...BASE, prediction_type, lower_order_final, final_sigmas_type };
        const a = run(new DPMSolverSinglestepScheduler(cfg));
        const ref = new DPMSolverSinglestepScheduler(cfg);
        ref.setTimesteps(10);
        const s = new DPMSolverSinglestepScheduler(cfg);
        s.setTimesteps({ timesteps: Array.from(ref.timesteps) });
        let x = dummyDeter();
        for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
        let d = 0;
        for (let i = 0; i < x.size; i++) d += Math.abs(a.data[i] - x.data[i]);
        assert.ok(
          d < 1e-5,
          `${JSON.stringify({ prediction_type, lower_order_final, final_sigmas_type })}: sum |diff| = ${d}`,
        );
      }
    }
  }
});

test('getOrderList follows diffusers get_order_list', () => {
  assert.deepEqual(getOrderList(6, 3, false, 'sigma_min'), [1, 2, 3, 1, 2, 3]);
  assert.deepEqual(getOrderList(6, 3, true, 'sigma_min'), [1, 2, 3, 1, 2, 1]);
  assert.deepEqual(getOrderList(7, 3, true, 'sigma_min'), [1, 2, 3, 1, 2, 3, 1]);
  assert.deepEqual(getOrderList(8, 3, true, 'sigma_min'), [1, 2, 3, 1, 2, 3, 1, 2]);
  assert.deepEqual(getOrderList(8, 3, true, 'zero'), [1, 2, 3, 1, 2, 3, 1, 1]);
  assert.deepEqual(getOrderList(6, 2, true, 'sigma_min'), [1, 2, 1, 2, 1, 1]);
  assert.deepEqual(getOrderList(5, 2, true, 'sigma_min'), [1, 2, 1, 2, 1]);
  assert.deepEqual(getOrderList(4, 1, false, 'zero'), [1, 1, 1, 1]);
  assert.throws(() => getOrderList(4, 4, true, 'zero'), /solver_order = 4 is not supported; allowed values: 1, 2, 3/);
});

test('lower_order_final is switched on for uneven step counts or a zero final sigma, and shows in toConfig', () => {
  const s = new DPMSolverSinglestepScheduler({ ...BASE, solver_order: 3 });
  s.setTimesteps(10); // 10 % 3 != 0
  assert.equal(s.lowerOrderFinal, true);
  assert.equal(s.toConfig().lower_order_final, true);
  assert.deepEqual(s.orderList, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
  const z = new DPMSolverSinglestepScheduler({ solver_order: 2 }); // final_sigmas_type 'zero' by default
  z.setTimesteps(10);
  assert.equal(z.lowerOrderFinal, true);
  assert.deepEqual(z.orderList, [1, 2, 1, 2, 1, 2, 1, 2, 1, 1]);
});

test('toConfig / fromConfig round trip gives identical steps', () => {
  const cfg = {
    ...BASE,
    solver_order: 3,
    solver_type: 'heun',
    use_karras_sigmas: true,
    prediction_type: 'v_prediction',
    lower_order_final: true,
  };
  const a = new DPMSolverSinglestepScheduler(cfg);
  const b = DPMSolverSinglestepScheduler.fromConfig(JSON.parse(JSON.stringify(a.toConfig())));
  assert.equal(JSON.stringify(b.toConfig()), JSON.stringify(a.toConfig()));
  assert.deepEqual(Array.from(run(a, 12).data), Array.from(run(b, 12).data));
});

test('bad configs name the key, the value and the allowed values', () => {
  assert.throws(
    () => new DPMSolverSinglestepScheduler({ solver_order: 4 }),
    /solver_order = 4 must be <= 3 \(allowed values: 1, 2, 3\)/,
  );
  assert.throws(
    () => new DPMSolverSinglestepScheduler({ algorithm_type: 'sde-dpmsolver' }),
    /algorithm_type = "sde-dpmsolver" is not supported; allowed values: 'dpmsolver', 'dpmsolver\+\+', 'sde-dpmsolver\+\+'/,
  );
  assert.throws(
    () => new DPMSolverSinglestepScheduler({ solver_type: 'euler' }),
    /solver_type = "euler" is not supported; allowed values: 'midpoint', 'heun'/,
  );
  assert.throws(
    () => new DPMSolverSinglestepScheduler({ algorithm_type: 'dpmsolver' }),
    /final_sigmas_type = 'zero' is not supported for algorithm_type = 'dpmsolver'/,
  );
  const s = new DPMSolverSinglestepScheduler({ algorithm_type: 'sde-dpmsolver++' });
  s.setTimesteps(4);
  const x = dummyDeter();
  assert.throws(() => s.step(x, s.timesteps[0], x), /is stochastic; pass \{ generator \} or \{ varianceNoise \}/);
});
