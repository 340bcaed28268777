/**
 * DDPMScheduler edge cases against diffusers' own code (test/fixtures/diffusers/ddpm_extra.json, written by
 * tools/fixtures/diffusers_ddpm_extra.py): learned / learned_range variances (model output with 2C channels),
 * custom timesteps, stepping without setTimesteps (previous = t - 1), batched addNoise / getVelocity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { DDPMScheduler } from '../../src/samplers/ddpm.ts';
import { allClose, dummyModel, noise0 } from './_fixture_runner.ts';

const f32 = Math.fround;
const fx = JSON.parse(readFileSync(new URL('../fixtures/diffusers/ddpm_extra.json', import.meta.url), 'utf8'));
const shape: number[] = fx.sample_shape;
const sample0 = () => new NDArray(shape, Float32Array.from(fx.sample0_values));

/** cat([a, b], dim=1) for [B, C, ...] arrays. */
function catChannels(a: NDArray, b: NDArray): NDArray {
  const [B, C, ...rest] = a.shape;
  const inner = C * rest.reduce((p, d) => p * d, 1);
  const out = new NDArray([B, 2 * C, ...rest]);
  for (let i = 0; i < B; i++) {
    out.data.set(a.data.subarray(i * inner, (i + 1) * inner), 2 * i * inner);
    out.data.set(b.data.subarray(i * inner, (i + 1) * inner), (2 * i + 1) * inner);
  }
  return out;
}

function model(kind: string, x: NDArray, t: number): NDArray {
  const m = dummyModel(x, t);
  if (kind === 'learned_range')
    return catChannels(
      m,
      x.map((v) => f32(v * 0.5) - 0.25),
    );
  if (kind === 'learned')
    return catChannels(
      m,
      x.map((v) => f32(f32(f32(v * v) * f32(0.01)) + f32(0.0001))),
    );
  return m;
}

for (const c of fx.cases) {
  test(`DDPMScheduler ${c.id} equals diffusers`, () => {
    const s = DDPMScheduler.fromConfig(c.config);
    if (c.custom_timesteps) s.setTimesteps({ timesteps: c.custom_timesteps });
    else if (c.set_timesteps) s.setTimesteps(c.timesteps.length);
    if (c.set_timesteps) assert.deepEqual(Array.from(s.timesteps), c.timesteps);
    const generator = new TorchGenerator(c.seed);
    let x = sample0();
    c.timesteps.forEach((t: number, i: number) => {
      x = s.step(model(c.model, x, t), t, x, { generator }).prevSample;
      let sum = 0;
      for (const v of x.data) sum += v;
      assert.ok(
        Math.abs(sum - c.steps[i].sum) <= 1e-5 * Math.abs(c.steps[i].abs_sum) + 1e-6,
        `step ${i} (t=${t}) sum ${sum} vs ${c.steps[i].sum}`,
      );
    });
    const maxAbs = c.final_full.reduce((m: number, v: number) => Math.max(m, Math.abs(v)), 0);
    allClose(x.data, c.final_full, 1e-5, 1e-6 * maxAbs, `${c.id} final`);
  });
}

test('DDPMScheduler batched addNoise / getVelocity (one timestep per batch element) equal diffusers', () => {
  const s = DDPMScheduler.fromConfig({
    num_train_timesteps: 1000,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
  });
  allClose(
    s.addNoise(sample0(), noise0(shape), fx.add_noise_batch.timesteps).data,
    fx.add_noise_batch.result.map(f32),
    0,
    0,
    'add_noise (bit-exact)',
  );
  allClose(
    s.getVelocity(sample0(), noise0(shape), fx.get_velocity_batch.timesteps).data,
    fx.get_velocity_batch.result.map(f32),
    0,
    0,
    'get_velocity (bit-exact)',
  );
});
