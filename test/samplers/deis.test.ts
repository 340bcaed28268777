/**
 * DEISMultistepScheduler against diffusers' published test values
 * (tests/schedulers/test_scheduler_deis.py, diffusers 0.37.0.dev0: get_scheduler_config(), full_loop() and
 * tolerances), the order switching, config errors and round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEISMultistepScheduler } from '../../src/samplers/deis.ts';
import { absMeanSum, closeToPublished, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

/** test_scheduler_deis.py: get_scheduler_config() */
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
};

function fullLoop(config: Record<string, unknown> = {}, s?: DEISMultistepScheduler, steps = 10) {
  const sch = s ?? new DEISMultistepScheduler({ ...BASE, ...config });
  sch.setTimesteps(steps);
  let x = dummyDeter();
  for (const t of sch.timesteps) x = sch.step(dummyModel(x, t), t, x).prevSample;
  return x;
}
const close = closeToPublished;

test('full loops reproduce diffusers test_full_loop_* values', () => {
  close(absMeanSum(fullLoop()).mean, 0.23916, 1e-3, 'test_full_loop_no_noise');
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction' })).mean,
    0.091,
    1e-3,
    'test_full_loop_with_v_prediction',
  );
  const s = new DEISMultistepScheduler(BASE);
  s.setTimesteps(10);
  const ts = Array.from(s.timesteps).slice(8); // t_start = 8
  let x = s.addNoise(dummyDeter(), dummyDeter(true), ts[0]);
  for (const t of ts) x = s.step(dummyModel(x, t), t, x).prevSample;
  close(absMeanSum(x).sum, 315.3016, 1e-2, 'test_full_loop_with_noise result_sum');
  close(absMeanSum(x).mean, 0.41054, 1e-3, 'test_full_loop_with_noise result_mean');
});

test('test_solver_order_and_type: orders 1-3 x epsilon/sample run without NaN', () => {
  for (const solver_order of [1, 2, 3]) {
    for (const prediction_type of ['epsilon', 'sample']) {
      const x = fullLoop({ solver_order, prediction_type, algorithm_type: 'deis', solver_type: 'logrho' });
      assert.ok(x.data.every(Number.isFinite), `order ${solver_order}/${prediction_type} has NaN`);
    }
  }
});

test('order 2 and 3 differ from order 1 (DDIM) and from each other; lower_order_final only acts below 15 steps', () => {
  const o1 = fullLoop({ solver_order: 1 }),
    o2 = fullLoop({ solver_order: 2 }),
    o3 = fullLoop({ solver_order: 3 });
  assert.notDeepEqual(Array.from(o1.data), Array.from(o2.data));
  assert.notDeepEqual(Array.from(o2.data), Array.from(o3.data));
  const a = fullLoop({ solver_order: 3, lower_order_final: true }, undefined, 20);
  const b = fullLoop({ solver_order: 3, lower_order_final: false }, undefined, 20);
  assert.deepEqual(Array.from(a.data), Array.from(b.data));
});

test('toConfig / fromConfig round trip gives identical steps', () => {
  const cfg = {
    ...BASE,
    solver_order: 3,
    use_karras_sigmas: true,
    prediction_type: 'v_prediction',
    timestep_spacing: 'trailing',
  };
  const a = new DEISMultistepScheduler(cfg);
  const b = DEISMultistepScheduler.fromConfig(JSON.parse(JSON.stringify(a.toConfig())));
  assert.equal(JSON.stringify(b.toConfig()), JSON.stringify(a.toConfig()));
  assert.deepEqual(Array.from(fullLoop({}, a).data), Array.from(fullLoop({}, b).data));
});

test('bad configs name the key, the value and the allowed values; sibling names are mapped', () => {
  assert.throws(
    () => new DEISMultistepScheduler({ solver_order: 4 }),
    /solver_order = 4 must be <= 3 \(allowed values: 1, 2, 3\)/,
  );
  assert.throws(
    () => new DEISMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' }),
    /algorithm_type = "sde-dpmsolver\+\+" is not supported; allowed values: 'deis'/,
  );
  assert.throws(
    () => new DEISMultistepScheduler({ solver_type: 'rk4' }),
    /solver_type = "rk4" is not supported; allowed values: 'logrho'/,
  );
  assert.equal(
    new DEISMultistepScheduler({ algorithm_type: 'dpmsolver++', solver_type: 'midpoint' }).config.algorithm_type,
    'deis',
  );
  assert.equal(new DEISMultistepScheduler({ solver_type: 'bh2' }).config.solver_type, 'logrho');
  assert.throws(
    () => new DEISMultistepScheduler().setTimesteps({ timesteps: [999, 1] }),
    /custom timesteps are not supported by DEIS/,
  );
});
