/**
 * Sinusoidal timestep embedding vs diffusers' get_timestep_embedding (fixture from
 * tools/fixtures/unet_torch.py case_timestep_embedding) and vs the closed form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, compile, trace, type Value } from '../../src/engine/index.ts';
import { Timesteps, getTimestepEmbedding, timestepFrequencies } from '../../src/nn/timesteps.ts';
import { assertAllClose, loadModelFixture } from '../models/_fixture.ts';

const fx = loadModelFixture('timestep_embedding');

async function embed(t: NDArray, dim: number, o: Parameters<typeof getTimestepEmbedding>[2]): Promise<NDArray> {
  const f = await compile(trace((x: Value) => getTimestepEmbedding(x, dim, o), [{ name: 't', shape: ['batch'] }]));
  return (await f.run({ t }))[0];
}

test('matches diffusers get_timestep_embedding for every option set', async () => {
  const t = fx.get('t');
  for (const [i, c] of (fx.cases as Record<string, number | boolean>[]).entries()) {
    const o = {
      flipSinToCos: c.flip_sin_to_cos as boolean,
      downscaleFreqShift: c.downscale_freq_shift as number,
      scale: (c.scale as number | undefined) ?? 1,
      maxPeriod: (c.max_period as number | undefined) ?? 10000,
    };
    const got = await embed(t, c.embedding_dim as number, o);
    // arguments reach 999 rad: float32 rounding of t * freq alone is ~3e-5 there
    assertAllClose(got, fx.get(`emb_${i}`), `case ${i} ${JSON.stringify(c)}`, 1e-4, 2e-4);
  }
});

test('closed form: dim 4, shift 0 -> freqs [1, 1/100]; flip gives [cos, sin]; odd dim pads a zero column', async () => {
  assert.deepEqual(Array.from(timestepFrequencies(4, { downscaleFreqShift: 0 })), [1, Math.fround(0.01)]);
  const t = NDArray.from([0, 2]);
  const e = await embed(t, 4, { flipSinToCos: true, downscaleFreqShift: 0 });
  const want = [1, 1, 0, 0, Math.cos(2), Math.cos(0.02), Math.sin(2), Math.sin(0.02)];
  want.forEach((w, i) => assert.ok(Math.abs(e.data[i] - w) < 1e-6, `element ${i}: ${e.data[i]} vs ${w}`));
  const odd = await embed(t, 5, { downscaleFreqShift: 0 });
  assert.deepEqual(odd.shape, [2, 5]);
  assert.equal(odd.data[4], 0);
  assert.equal(odd.data[9], 0);
});

test('Timesteps module has no parameters; bad inputs are named', () => {
  const m = new Timesteps(32, { flipSinToCos: true, downscaleFreqShift: 0 });
  assert.equal(m.namedParameters().length, 0);
  assert.throws(() => new Timesteps(1), /dim must be an integer >= 2, got 1/);
  assert.throws(() => new Timesteps(2, { downscaleFreqShift: 1 }), /divides by zero/);
  assert.throws(() => new Timesteps(8, { maxPeriod: 0 }), /maxPeriod must be > 0, got 0/);
  assert.throws(
    () => trace((x: Value) => getTimestepEmbedding(x, 8), [{ name: 't', shape: [2, 1] }]),
    /timesteps must be a 1-D array \[batch\], got shape \[2, 1\]/,
  );
});
