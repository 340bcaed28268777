/**
 * Swapping schedulers on one config (diffusers' `X.from_config(other.config)`), as in the test_switch cases of
 * diffusers' tests/schedulers/test_scheduler_{dpm_multi,dpm_single,unipc,deis}.py: a chain through the
 * four DPM-family classes must come back to the same settings and the same samples. For DPM multistep
 * and singlestep diffusers publishes the expected result_mean of the switched scheduler (0.3301, 0.2791);
 * for UniPC and DEIS its full_loop() re-creates the scheduler, so there we check that the chain reproduces
 * the unswitched run exactly (and the unswitched run matches the published value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NDArray } from '../../src/engine/ndarray.ts';
import {
  DEISMultistepScheduler,
  DPMSolverMultistepScheduler,
  DPMSolverSinglestepScheduler,
  schedulerFromConfig,
  UniPCMultistepScheduler,
  type Scheduler,
} from '../../src/samplers/index.ts';
import { absMeanSum, closeToPublished, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

type Cls = { fromConfig(c: Record<string, unknown>): Scheduler };
const M = DPMSolverMultistepScheduler as unknown as Cls;
const S = DPMSolverSinglestepScheduler as unknown as Cls;
const U = UniPCMultistepScheduler as unknown as Cls;
const D = DEISMultistepScheduler as unknown as Cls;

function fullLoop(s: Scheduler): NDArray {
  s.setTimesteps(10);
  let x = dummyDeter();
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
  return x;
}
function chain(start: Scheduler, classes: Cls[]): Scheduler {
  let s = start;
  for (const c of classes) s = c.fromConfig(JSON.parse(JSON.stringify(s.toConfig())));
  return s;
}
const close = (got: number, want: number, what: string) => closeToPublished(got, want, 1e-3, what);

test('DPM multistep -> singlestep -> UniPC -> DEIS -> DPM multistep (test_dpm_multi test_switch)', () => {
  const start = new DPMSolverMultistepScheduler({
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
  });
  close(absMeanSum(fullLoop(start)).mean, 0.3301, 'before the switch');
  const end = chain(start, [S, U, D, M]);
  assert.ok(end instanceof DPMSolverMultistepScheduler);
  assert.equal(end.config.algorithm_type, 'dpmsolver++');
  assert.equal(end.config.solver_type, 'midpoint');
  assert.equal(end.config.final_sigmas_type, 'sigma_min');
  assert.equal(end.config.lower_order_final, false);
  close(absMeanSum(fullLoop(end)).mean, 0.3301, 'after the switch');
});

test('DPM singlestep -> DEIS -> DPM multistep -> UniPC -> singlestep (test_dpm_single test_switch)', () => {
  const start = new DPMSolverSinglestepScheduler({
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
  });
  close(absMeanSum(fullLoop(start)).mean, 0.2791, 'before the switch');
  const end = chain(start, [D, M, U, S]);
  assert.ok(end instanceof DPMSolverSinglestepScheduler);
  close(absMeanSum(fullLoop(end)).mean, 0.2791, 'after the switch');
});

test('UniPC and DEIS survive the round of switches with identical samples', () => {
  const u = new UniPCMultistepScheduler({
    num_train_timesteps: 1000,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    solver_order: 2,
    solver_type: 'bh2',
    final_sigmas_type: 'sigma_min',
  });
  const ux = fullLoop(u);
  close(absMeanSum(ux).mean, 0.2464, 'UniPC test_switch (unswitched)');
  const u2 = chain(u, [S, D, M, U]);
  assert.equal(u2.config.solver_type, 'bh2');
  assert.deepEqual(Array.from(fullLoop(u2).data), Array.from(ux.data));

  const d = new DEISMultistepScheduler({
    num_train_timesteps: 1000,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    solver_order: 2,
  });
  const dx = fullLoop(d);
  close(absMeanSum(dx).mean, 0.23916, 'DEIS test_switch (unswitched)');
  const d2 = chain(d, [S, M, U, D]);
  assert.equal(d2.config.algorithm_type, 'deis');
  assert.equal(d2.config.solver_type, 'logrho');
  assert.deepEqual(Array.from(fullLoop(d2).data), Array.from(dx.data));
});

test('schedulerFromConfig finds the four classes by name and by _class_name', () => {
  for (const name of [
    'DPMSolverMultistepScheduler',
    'DPMSolverSinglestepScheduler',
    'UniPCMultistepScheduler',
    'DEISMultistepScheduler',
  ]) {
    assert.equal(schedulerFromConfig(name, {}).className, name);
    assert.equal(schedulerFromConfig(null, { _class_name: name, solver_order: 3 }).config.solver_order, 3);
  }
});
