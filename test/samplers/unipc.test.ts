/**
 * UniPCMultistepScheduler against diffusers' published test values
 * (tests/schedulers/test_scheduler_unipc.py, diffusers 0.37.0.dev0 snapshot ChrisColeTech/diffusers@725959a4:
 * UniPCMultistepSchedulerTest and UniPCMultistepScheduler1DTest, their get_scheduler_config(), full_loop() and
 * tolerances), the float32 order-condition solve, config errors and round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NDArray } from '../../src/engine/ndarray.ts';
import { solveLinearF32, UniPCMultistepScheduler } from '../../src/samplers/unipc.ts';
import { absMeanSum, closeToPublished, dummyDeter, dummyModel } from './_diffusers_dummy.ts';

/** test_scheduler_unipc.py: get_scheduler_config() */
const BASE = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  solver_type: 'bh2',
  final_sigmas_type: 'sigma_min',
};
const SHAPE_2D = [4, 3, 8, 8];
const SHAPE_1D = [4, 3, 8];

function fullLoop(config: Record<string, unknown> = {}, shape = SHAPE_2D, s?: UniPCMultistepScheduler): NDArray {
  const sch = s ?? new UniPCMultistepScheduler({ ...BASE, ...config });
  sch.setTimesteps(10);
  let x = dummyDeter(false, shape);
  for (const t of sch.timesteps) x = sch.step(dummyModel(x, t), t, x).prevSample;
  return x;
}
function withNoise(shape: readonly number[]): NDArray {
  const s = new UniPCMultistepScheduler(BASE);
  s.setTimesteps(10);
  const ts = Array.from(s.timesteps).slice(8); // t_start = 8
  let x = s.addNoise(dummyDeter(false, shape), dummyDeter(true, shape), ts[0]);
  for (const t of ts) x = s.step(dummyModel(x, t), t, x).prevSample;
  return x;
}
const close = closeToPublished;

test('full loops reproduce diffusers UniPCMultistepSchedulerTest values (samples [4, 3, 8, 8])', () => {
  close(absMeanSum(fullLoop()).mean, 0.2464, 1e-3, 'test_full_loop_no_noise');
  close(absMeanSum(fullLoop({ use_karras_sigmas: true })).mean, 0.2925, 1e-3, 'test_full_loop_with_karras');
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction' })).mean,
    0.1014,
    1e-3,
    'test_full_loop_with_v_prediction',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true })).mean,
    0.1966,
    1e-3,
    'test_full_loop_with_karras_and_v_prediction',
  );
  const n = absMeanSum(withNoise(SHAPE_2D));
  close(n.sum, 315.5757, 1e-2, 'test_full_loop_with_noise result_sum');
  close(n.mean, 0.4109, 1e-3, 'test_full_loop_with_noise result_mean');
});

test('full loops reproduce diffusers UniPCMultistepScheduler1DTest values (samples [4, 3, 8])', () => {
  close(absMeanSum(fullLoop({}, SHAPE_1D)).mean, 0.2441, 1e-3, 'test_full_loop_no_noise');
  close(absMeanSum(fullLoop({ use_karras_sigmas: true }, SHAPE_1D)).mean, 0.2898, 1e-3, 'test_full_loop_with_karras');
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction' }, SHAPE_1D)).mean,
    0.1014,
    1e-3,
    'test_full_loop_with_v_prediction',
  );
  close(
    absMeanSum(fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true }, SHAPE_1D)).mean,
    0.1944,
    1e-3,
    'test_full_loop_with_karras_and_v_prediction',
  );
  const n = absMeanSum(withNoise(SHAPE_1D));
  close(n.sum, 39.087, 1e-2, 'test_full_loop_with_noise result_sum');
  close(n.mean, 0.4072, 1e-3, 'test_full_loop_with_noise result_mean');
});

test('test_solver_order_and_type: bh1/bh2 x orders 1-3 x epsilon/sample run without NaN', () => {
  for (const solver_type of ['bh1', 'bh2']) {
    for (const solver_order of [1, 2, 3]) {
      for (const prediction_type of ['epsilon', 'sample']) {
        const x = fullLoop({ solver_order, solver_type, prediction_type });
        assert.ok(x.data.every(Number.isFinite), `${solver_type}/${solver_order}/${prediction_type} has NaN`);
      }
    }
  }
});

test('the order-condition solve reproduces torch.linalg.solve (float32 LAPACK) on a system from a real run', () => {
  // the last UniP-4 system of a 10-step bh1 v_prediction run, and torch 1.13's float32 answer
  const A = [
    [1, 1, 1],
    [-0.21191245317459106, -0.36441531777381897, -0.5054460763931274],
    [0.04490688815712929, 0.13279852271080017, 0.2554757297039032],
  ];
  const b = [2.378695011138916, 1.0635567903518677, 0.6200852990150452];
  assert.deepEqual(solveLinearF32(A, b), [44.306549072265625, -76.1507797241211, 34.22292709350586]);
  assert.throws(
    () =>
      solveLinearF32(
        [
          [1, 1],
          [1, 1],
        ],
        [1, 2],
      ),
    /singular/,
  );
});

test('disable_corrector skips UniC after the listed steps; corrector off everywhere = plain UniP', () => {
  const a = fullLoop({ solver_order: 3 });
  const b = fullLoop({ solver_order: 3, disable_corrector: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  const c = fullLoop({ solver_order: 3, disable_corrector: [2] });
  assert.notDeepEqual(Array.from(a.data), Array.from(b.data));
  assert.notDeepEqual(Array.from(a.data), Array.from(c.data));
  assert.notDeepEqual(Array.from(b.data), Array.from(c.data));
});

test('toConfig / fromConfig round trip gives identical steps', () => {
  const cfg = {
    ...BASE,
    solver_order: 3,
    solver_type: 'bh1',
    use_karras_sigmas: true,
    sigma_min: 0.05,
    prediction_type: 'v_prediction',
    disable_corrector: [1],
  };
  const a = new UniPCMultistepScheduler(cfg);
  const b = UniPCMultistepScheduler.fromConfig(JSON.parse(JSON.stringify(a.toConfig())));
  assert.equal(JSON.stringify(b.toConfig()), JSON.stringify(a.toConfig()));
  assert.deepEqual(Array.from(fullLoop({}, SHAPE_2D, a).data), Array.from(fullLoop({}, SHAPE_2D, b).data));
});

test('bad configs name the key, the value and the allowed values', () => {
  assert.throws(
    () => new UniPCMultistepScheduler({ solver_type: 'bh3' }),
    /solver_type = "bh3" is not supported; allowed values: 'bh1', 'bh2'/,
  );
  assert.throws(() => new UniPCMultistepScheduler({ solver_order: 0 }), /solver_order = 0 must be >= 1/);
  assert.throws(
    () => new UniPCMultistepScheduler({ solver_p: { _class_name: 'DDIMScheduler' } }),
    /solver_p = .* is not supported .*allowed values: null/,
  );
  assert.throws(
    () => new UniPCMultistepScheduler({ disable_corrector: [0.5] }),
    /disable_corrector\[0\] = 0.5 must be an integer/,
  );
  assert.throws(() => new UniPCMultistepScheduler({ use_beta_sigmas: true, use_karras_sigmas: true }), /only one of/);
  const s = new UniPCMultistepScheduler();
  assert.throws(() => s.setTimesteps({ timesteps: [999, 500] }), /custom timesteps are not supported by UniPC/);
  // sibling solver names are mapped like diffusers
  assert.equal(new UniPCMultistepScheduler({ solver_type: 'midpoint' }).config.solver_type, 'bh2');
  assert.equal(new UniPCMultistepScheduler({ solver_type: 'logrho' }).config.solver_type, 'bh2');
});

test('final sigma 0: bh1 lands on x0 (diffusers: NaN); predict_x0 = false is rejected with a clear error', () => {
  const s = new UniPCMultistepScheduler({ solver_type: 'bh1' }); // final_sigmas_type 'zero' by default
  s.setTimesteps(10);
  let x = dummyDeter();
  let last: NDArray | undefined;
  for (const t of s.timesteps) {
    const out = s.step(dummyModel(x, t), t, x);
    x = out.prevSample;
    last = out.predOriginalSample;
  }
  assert.ok(x.data.every(Number.isFinite));
  assert.deepEqual(Array.from(x.data), Array.from((last as NDArray).data));
  assert.throws(
    () => new UniPCMultistepScheduler({ predict_x0: false }),
    /final_sigmas_type = 'zero' is not supported with predict_x0 = false .* use final_sigmas_type = 'sigma_min' or predict_x0 = true/,
  );
});
