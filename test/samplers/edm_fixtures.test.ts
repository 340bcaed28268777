/**
 * EDMEulerScheduler and EDMDPMSolverMultistepScheduler against diffusers' own step loop
 * (test/fixtures/diffusers/edm_*.json, made by tools/fixtures/diffusers_edm_sde.py running diffusers@58eb52c
 * under PyTorch 1.13): config round trip, timesteps (c_noise), sigmas, init_noise_sigma, every step's
 * statistics and full prev_sample tensors, add_noise; seeded churn / SDE cases draw from TorchGenerator.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EDMEulerScheduler } from '../../src/samplers/edm_euler.ts';
import { EDMDPMSolverMultistepScheduler } from '../../src/samplers/edm_dpmsolver_multistep.ts';
import { schedulerFromConfig } from '../../src/samplers/scheduler.ts';
import { runFixtureFamilies } from './_fixture_runner.ts';

runFixtureFamilies([
  ['edm_euler', (c) => EDMEulerScheduler.fromConfig(c)],
  ['edm_dpmsolver_multistep', (c) => EDMDPMSolverMultistepScheduler.fromConfig(c)],
]);

test('EDM schedulers: config swap keeps the EDM keys; diffusers rewrites deis -> dpmsolver++; clear errors', () => {
  const euler = EDMEulerScheduler.fromConfig({ sigma_data: 1.0, sigma_max: 20 });
  const dpm = schedulerFromConfig('EDMDPMSolverMultistepScheduler', euler.toConfig());
  assert.equal(dpm.config.sigma_data, 1.0);
  assert.equal(dpm.config.sigma_max, 20);
  assert.equal(
    EDMDPMSolverMultistepScheduler.fromConfig({ algorithm_type: 'deis', solver_type: 'bh2' }).config.algorithm_type,
    'dpmsolver++',
  );
  assert.throws(
    () => EDMDPMSolverMultistepScheduler.fromConfig({ algorithm_type: 'sde-dpmsolver++', solver_order: 3 }),
    /solver_order = 3 .*sde-dpmsolver\+\+/,
  );
  assert.throws(
    () => EDMEulerScheduler.fromConfig({ sigma_schedule: 'beta' }),
    /sigma_schedule = "beta".*'karras', 'exponential'/,
  );
  assert.throws(() => EDMEulerScheduler.fromConfig({ sigma_min: 5, sigma_max: 1 }), /sigma_min = 5, sigma_max = 1/);
});
