/**
 * diffusers' own published reference values: the full loops of huggingface/diffusers
 * tests/schedulers/test_scheduler_{ddpm,ddim,pndm,euler,euler_ancestral,heun,kdpm2_discrete,lms}.py
 * (read at ChrisColeTech/diffusers@725959a4, a snapshot of diffusers main 0.37.0.dev0), with their dummy
 * model `sample * t / (t + 1)`, `dummy_sample_deter` / `dummy_noise_deter` of shape [4, 3, 8, 8] and
 * their tolerances (|sum - ref| < 1e-2, |mean - ref| < 1e-3 unless the test says otherwise).
 *
 * Note the loop convention of those tests for sigma schedulers: the *scaled* model input is also what
 * is passed to step() (sample = scale_model_input(sample, t)). We mirror it exactly, including the order
 * of generator draws (one torch.manual_seed(0) generator passed to every step).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import type { Scheduler, StepOptions } from '../../src/samplers/scheduler.ts';
import { DDPMScheduler } from '../../src/samplers/ddpm.ts';
import { DDIMScheduler } from '../../src/samplers/ddim.ts';
import { PNDMScheduler } from '../../src/samplers/pndm.ts';
import { EulerDiscreteScheduler } from '../../src/samplers/euler.ts';
import { EulerAncestralDiscreteScheduler } from '../../src/samplers/euler_ancestral.ts';
import { HeunDiscreteScheduler } from '../../src/samplers/heun.ts';
import { KDPM2DiscreteScheduler } from '../../src/samplers/kdpm2.ts';
import { LMSDiscreteScheduler } from '../../src/samplers/lms.ts';
import { absMeanSum, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

const f32 = Math.fround;
const SHAPE = [4, 3, 8, 8];

function expectClose(x: NDArray, sum: number, mean: number, tolSum = 1e-2, tolMean = 1e-3): void {
  const r = absMeanSum(x);
  assert.ok(Math.abs(r.sum - sum) < tolSum, `result_sum ${r.sum}, diffusers test expects ${sum} (tol ${tolSum})`);
  assert.ok(
    Math.abs(r.mean - mean) < tolMean,
    `result_mean ${r.mean}, diffusers test expects ${mean} (tol ${tolMean})`,
  );
}

/** The unit-test loop of the sigma schedulers (scaled sample into step), optionally starting from add_noise. */
function sigmaLoop(s: Scheduler, opts: { generator?: boolean; withNoise?: boolean } = {}): NDArray {
  s.setTimesteps(10);
  const stepOpts: StepOptions = opts.generator ? { generator: new TorchGenerator(0) } : {};
  let sample = dummyDeter(false, SHAPE).map((v) => v * f32(s.initNoiseSigma));
  let timesteps = Array.from(s.timesteps);
  if (opts.withNoise) {
    const tStart = 10 - 2;
    timesteps = timesteps.slice(tStart * s.order);
    sample = s.addNoise(sample, dummyDeter(true, SHAPE), [timesteps[0]]);
  }
  for (const t of timesteps) {
    sample = s.scaleModelInput(sample, t);
    const out = dummyModel(sample, t);
    sample = s.step(out, t, sample, stepOpts).prevSample;
  }
  return sample;
}

const cfg = (extra: Record<string, unknown> = {}) => ({
  num_train_timesteps: 1100,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  ...extra,
});
const vpCfg = (extra: Record<string, unknown> = {}) => ({
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  ...extra,
});

test('DDPMScheduler test_full_loop_no_noise (1000 steps, torch.manual_seed(0)): sum 258.9606, mean 0.3372', () => {
  const s = DDPMScheduler.fromConfig(vpCfg({ variance_type: 'fixed_small', clip_sample: true }));
  const generator = new TorchGenerator(0);
  let x = dummyDeter(false, SHAPE);
  for (let t = 999; t >= 0; t--) x = s.step(dummyModel(x, t), t, x, { generator }).prevSample;
  expectClose(x, 258.9606, 0.3372);
});

test('DDIMScheduler test_full_loop_no_noise (eta 0, 10 steps): sum 172.0067, mean 0.223967', () => {
  const s = DDIMScheduler.fromConfig(vpCfg({ clip_sample: true }));
  s.setTimesteps(10);
  let x = dummyDeter(false, SHAPE);
  for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, { eta: 0 }).prevSample;
  expectClose(x, 172.0067, 0.223967);
});

test('PNDMScheduler test_full_loop_no_noise (PRK then PLMS, 10 steps): sum 198.1318, mean 0.2580', () => {
  const s = PNDMScheduler.fromConfig(vpCfg());
  s.setTimesteps(10);
  let x = dummyDeter(false, SHAPE);
  for (const t of s.prkTimesteps) x = s.stepPrk(dummyModel(x, t), t, x).prevSample;
  for (const t of s.plmsTimesteps) x = s.stepPlms(dummyModel(x, t), t, x).prevSample;
  expectClose(x, 198.1318, 0.258);
});

const published: [
  string,
  () => Scheduler,
  { generator?: boolean; withNoise?: boolean },
  number,
  number,
  number?,
  number?,
][] = [
  [
    'EulerDiscreteScheduler test_full_loop_no_noise',
    () => EulerDiscreteScheduler.fromConfig(cfg()),
    { generator: true },
    10.0807,
    0.0131,
  ],
  [
    'EulerDiscreteScheduler test_full_loop_with_v_prediction',
    () => EulerDiscreteScheduler.fromConfig(cfg({ prediction_type: 'v_prediction' })),
    { generator: true },
    0.0002,
    2.2676e-6,
  ],
  [
    'EulerDiscreteScheduler test_full_loop_device_karras_sigmas',
    () => EulerDiscreteScheduler.fromConfig(cfg({ use_karras_sigmas: true })),
    { generator: true },
    124.52299499511719,
    0.16213932633399963,
  ],
  [
    'EulerDiscreteScheduler test_full_loop_with_noise',
    () => EulerDiscreteScheduler.fromConfig(cfg()),
    { generator: true, withNoise: true },
    57062.9297,
    74.3007,
  ],
  [
    'EulerAncestralDiscreteScheduler test_full_loop_no_noise',
    () => EulerAncestralDiscreteScheduler.fromConfig(cfg()),
    { generator: true },
    152.3192,
    0.1983,
  ],
  [
    'EulerAncestralDiscreteScheduler test_full_loop_with_v_prediction',
    () => EulerAncestralDiscreteScheduler.fromConfig(cfg({ prediction_type: 'v_prediction' })),
    { generator: true },
    108.4439,
    0.1412,
  ],
  [
    'EulerAncestralDiscreteScheduler test_full_loop_with_noise',
    () => EulerAncestralDiscreteScheduler.fromConfig(cfg()),
    { generator: true, withNoise: true },
    56163.0508,
    73.129,
  ],
  ['HeunDiscreteScheduler test_full_loop_no_noise', () => HeunDiscreteScheduler.fromConfig(cfg()), {}, 0.1233, 0.0002],
  [
    'HeunDiscreteScheduler test_full_loop_with_v_prediction',
    () => HeunDiscreteScheduler.fromConfig(cfg({ prediction_type: 'v_prediction' })),
    {},
    4.6934e-7,
    6.1112e-10,
  ],
  [
    'HeunDiscreteScheduler test_full_loop_device_karras_sigmas',
    () => HeunDiscreteScheduler.fromConfig(cfg({ use_karras_sigmas: true })),
    {},
    0.00015,
    1.9869554535034695e-7,
    1e-2,
    1e-2,
  ],
  [
    'HeunDiscreteScheduler test_full_loop_with_noise',
    () => HeunDiscreteScheduler.fromConfig(cfg()),
    { withNoise: true },
    75074.8906,
    97.7538,
  ],
  [
    'KDPM2DiscreteScheduler test_full_loop_no_noise',
    () => KDPM2DiscreteScheduler.fromConfig(cfg()),
    {},
    20.4125,
    0.0266,
  ],
  [
    'KDPM2DiscreteScheduler test_full_loop_with_v_prediction',
    () => KDPM2DiscreteScheduler.fromConfig(cfg({ prediction_type: 'v_prediction' })),
    {},
    4.6934e-7,
    6.1112e-10,
  ],
  [
    'KDPM2DiscreteScheduler test_full_loop_with_noise',
    () => KDPM2DiscreteScheduler.fromConfig(cfg()),
    { withNoise: true },
    70408.4062,
    91.6776,
  ],
  ['LMSDiscreteScheduler test_full_loop_no_noise', () => LMSDiscreteScheduler.fromConfig(cfg()), {}, 1006.388, 1.31],
  [
    'LMSDiscreteScheduler test_full_loop_with_v_prediction',
    () => LMSDiscreteScheduler.fromConfig(cfg({ prediction_type: 'v_prediction' })),
    {},
    0.0017,
    2.2676e-6,
  ],
  [
    'LMSDiscreteScheduler test_full_loop_device_karras_sigmas',
    () => LMSDiscreteScheduler.fromConfig(cfg({ use_karras_sigmas: true })),
    {},
    3812.9927,
    4.9648,
    2e-2,
    1e-3,
  ],
  [
    'LMSDiscreteScheduler test_full_loop_with_noise',
    () => LMSDiscreteScheduler.fromConfig(cfg()),
    { withNoise: true },
    27663.6895,
    36.0204,
  ],
];

for (const [name, make, opts, sum, mean, tolSum, tolMean] of published) {
  test(`${name}: sum ${sum}, mean ${mean}`, () => {
    expectClose(sigmaLoop(make(), opts), sum, mean, tolSum, tolMean);
  });
}

/** diffusers' full_loop helper of test_scheduler_euler.py / test_scheduler_heun.py (scaled sample into step). */
function fullLoop(s: Scheduler): NDArray {
  let sample = dummyDeter(false, SHAPE).map((v) => v * f32(s.initNoiseSigma));
  for (const t of s.timesteps) {
    sample = s.scaleModelInput(sample, t);
    sample = s.step(dummyModel(sample, t), t, sample, { generator: new TorchGenerator(0) }).prevSample;
  }
  return sample;
}

function sumAbsDiff(a: NDArray, b: NDArray): number {
  let d = 0;
  for (let i = 0; i < a.size; i++) d += Math.abs(a.data[i] - b.data[i]);
  return d;
}

test('EulerDiscreteScheduler test_custom_timesteps / test_custom_sigmas: custom schedules reproduce the computed ones (sum |diff| < 1e-5)', () => {
  for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
    for (const interpolation_type of ['linear', 'log_linear']) {
      for (const final_sigmas_type of ['sigma_min', 'zero']) {
        const c = cfg({ prediction_type, interpolation_type, final_sigmas_type });
        const a = EulerDiscreteScheduler.fromConfig(c);
        a.setTimesteps(10);
        const ref = fullLoop(a);
        const b = EulerDiscreteScheduler.fromConfig(c);
        b.setTimesteps({ timesteps: a.timesteps });
        assert.ok(
          sumAbsDiff(fullLoop(b), ref) < 1e-5,
          `custom timesteps ${prediction_type}/${interpolation_type}/${final_sigmas_type}`,
        );
        if (interpolation_type === 'linear') {
          const s = EulerDiscreteScheduler.fromConfig(c);
          s.setTimesteps({ sigmas: a.sigmas });
          assert.ok(sumAbsDiff(fullLoop(s), ref) < 1e-5, `custom sigmas ${prediction_type}/${final_sigmas_type}`);
        }
      }
    }
  }
});

test('HeunDiscreteScheduler test_custom_timesteps: cat([t[:1], t[1::2]]) as custom timesteps reproduces the loop', () => {
  for (const prediction_type of ['epsilon', 'sample', 'v_prediction']) {
    for (const timestep_spacing of ['linspace', 'leading']) {
      const c = cfg({ prediction_type, timestep_spacing });
      const a = HeunDiscreteScheduler.fromConfig(c);
      a.setTimesteps(10);
      const ref = fullLoop(a);
      const ts = [a.timesteps[0], ...Array.from(a.timesteps).filter((_, i) => i % 2 === 1)];
      const b = HeunDiscreteScheduler.fromConfig(c);
      b.setTimesteps({ timesteps: ts });
      assert.ok(sumAbsDiff(fullLoop(b), ref) < 1e-5, `${prediction_type}/${timestep_spacing}`);
    }
  }
});
