/**
 * numerics.ts against PyTorch / NumPy themselves (test/fixtures/schedules/torch_numerics.json, written by
 * tools/fixtures/torch_numerics.py: one torch/numpy call per value).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cumprodF32,
  npArange,
  npInterp,
  npLinspace,
  roundHalfEven,
  torchLinspaceF32,
} from '../../src/schedules/numerics.ts';
import { alphasFromBetas, linearBetas } from '../../src/schedules/betas.ts';
import { quantileF32 } from '../../src/diffusion/thresholding.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/schedules/torch_numerics.json', import.meta.url), 'utf8'));

test('torchLinspaceF32 equals torch.linspace(dtype=float32) bit for bit (CPU kernel)', () => {
  for (const c of fx.linspace_f32) {
    const got = torchLinspaceF32(c.a, c.b, c.n);
    assert.deepEqual(Array.from(got), c.values.map(Math.fround), `linspace(${c.a}, ${c.b}, ${c.n})`);
  }
});

test('cumprodF32 (float64 accumulation, float32 storage) equals torch.cumprod on float32', () => {
  const { alphasCumprod } = alphasFromBetas(linearBetas(0.0001, 0.02, 1000));
  assert.deepEqual(Array.from(alphasCumprod), fx.cumprod_f32.map(Math.fround));
  assert.deepEqual(Array.from(cumprodF32([2, 3, 4])), [2, 6, 24]);
});

test('npLinspace / npArange equal np.linspace / np.arange exactly (float64)', () => {
  for (const c of fx.np_linspace)
    assert.deepEqual(Array.from(npLinspace(c.a, c.b, c.n)), c.values, `linspace(${c.a}, ${c.b}, ${c.n})`);
  for (const c of fx.np_arange)
    assert.deepEqual(Array.from(npArange(c.a, c.b, c.step)), c.values, `arange(${c.a}, ${c.b}, ${c.step})`);
});

test('npInterp equals np.interp, including clamping outside the table', () => {
  const c = fx.np_interp;
  assert.deepEqual(Array.from(npInterp(c.x, c.xp, c.fp)), c.values);
});

test('roundHalfEven equals np.round (ties to even)', () => {
  const c = fx.np_round;
  assert.deepEqual(c.x.map(roundHalfEven), c.values);
});

test('quantileF32 equals torch.quantile (linear interpolation) on float32 data', () => {
  for (const c of fx.quantile) {
    assert.equal(
      quantileF32(Float32Array.from(c.values), c.q),
      Math.fround(c.quantile),
      `n=${c.values.length} q=${c.q}`,
    );
  }
});
