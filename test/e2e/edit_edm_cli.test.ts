/**
 * The editing commands on an EDM model folder (what `diffuse train --data mnist` writes by default), as a user
 * runs them. The folder's network outputs F = 0 (a UNet whose last convolution is zero), so its EDM denoiser is
 * D(x; sigma) = c_skip x = x sigma_data^2 / (sigma_data^2 + sigma^2): the exact denoiser of Gaussian data
 * N(0, sigma_data^2 I), sigma_data = 0.5. Closed forms follow: the probability-flow ODE scales x0 by
 * sqrt(abar s^2 + 1 - abar) / s, so DDIM inversion to the last level gives noise 2 x0 (abar_T ~ 4e-5), and
 * samples (img2img at strength 1, the filled half of inpainting) have standard deviation 0.5. Read as an eps
 * model without the formulation conversion, the same network would give noise ~0 and samples clipped to +-1.
 * `diffuse sample` (default scheduler) is checked the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './_cli.ts';
import { NDArray } from '../../src/engine/index.ts';
import { UNet2DModel } from '../../src/api/pretrained_model.ts';
import { DDPMPipeline } from '../../src/api/ddpm_pipeline.ts';
import { EDMEulerScheduler } from '../../src/samplers/edm_euler.ts';
import { readImage, writePng } from '../../src/io/png.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-edit-edm-'));
const at = (f: string) => path.join(tmp, f);
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const S = 8; // image side
async function edmFolder(): Promise<string> {
  const unet = UNet2DModel.fromConfig(
    {
      sample_size: S,
      in_channels: 1,
      out_channels: 1,
      block_out_channels: [8, 16],
      layers_per_block: 1,
      down_block_types: ['DownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'UpBlock2D'],
      norm_num_groups: 4,
    },
    { seed: 1 },
  );
  for (const k of ['conv_out.weight', 'conv_out.bias']) unet.weights[k] = unet.weights[k].map(() => 0);
  // what the EDM objective writes (src/training/edm_objective.ts, schedulerConfig())
  const sched = EDMEulerScheduler.fromConfig({ sigma_min: 0.002, sigma_max: 80, sigma_data: 0.5 });
  const dir = at('edm');
  await new DDPMPipeline(unet, sched).savePretrained(dir);
  return dir;
}

/** Tiles k of a grid PNG written with makeGrid's padding 2 and `nrow` tiles per row, values in [-1, 1]. */
function tiles(file: string, n: number, nrow: number): number[] {
  const img = readImage(file, { mode: 'L' }).image; // [1, H, W] in [0, 1]
  const W = img.shape[2];
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const y0 = Math.floor(k / nrow) * (S + 2) + 2,
      x0 = (k % nrow) * (S + 2) + 2;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out.push(2 * img.data[(y0 + y) * W + x0 + x] - 1);
  }
  return out;
}
const std = (v: number[]) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
};

test('invert, img2img and inpaint convert an EDM model folder (closed forms of its Gaussian denoiser)', async () => {
  const dir = await edmFolder();
  const x0 = new NDArray([1, S, S]).map((_, i) => ((i * 7) % 5 < 2 ? 1 : -1)); // exactly +-1 after the PNG round trip
  writePng(at('a.png'), x0, { range: '[-1,1]' });

  let r = await runCli(['invert', dir, '--input', at('a.png'), '--steps', '50', '--save-noise', at('z.safetensors')]);
  assert.equal(r.code, 0, r.stderr);
  const mse = Number(/reconstruction MSE ([\d.e+-]+)/.exec(r.stdout)?.[1]);
  assert.ok(mse < 0.01, `reconstruction MSE ${mse}`);
  const z = parseSafetensors(fs.readFileSync(at('z.safetensors'))).ndarray('noise');
  let worst = 0;
  for (let i = 0; i < x0.size; i++) worst = Math.max(worst, Math.abs(z.data[i] / (2 * x0.data[i]) - 1));
  assert.ok(worst < 0.05, `inverted noise / (2 x0) - 1 up to ${worst}`);

  r = await runCli([
    'img2img',
    dir,
    '--input',
    at('a.png'),
    '--strength',
    '1',
    '--steps',
    '20',
    '--n',
    '16',
    '--out',
    at('g.png'),
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const g = std(tiles(at('g.png'), 16, 16));
  assert.ok(g > 0.4 && g < 0.58, `img2img at strength 1: sample std ${g} (data: 0.5)`);

  r = await runCli([
    'inpaint',
    dir,
    '--input',
    at('a.png'),
    '--region',
    'lower-half',
    '--scheduler',
    'ddim', // deterministic: DDPM's fixed_small variance at 20 steps under-disperses even with an exact model
    '--steps',
    '20',
    '--n',
    '16',
    '--out',
    at('i.png'),
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const px = tiles(at('i.png'), 16, 16);
  const upper: number[] = [],
    lower: number[] = [];
  for (let k = 0; k < 16; k++)
    for (let i = 0; i < S * S; i++)
      (i < (S * S) / 2 ? upper : lower).push(px[k * S * S + i] - (i < (S * S) / 2 ? x0.data[i] : 0));
  assert.ok(Math.max(...upper.map(Math.abs)) < 0.01, 'the known upper half is kept');
  const l = std(lower);
  assert.ok(l > 0.4 && l < 0.58, `inpainted half: std ${l} (independent pixels of std 0.5)`);

  // diffuse sample's default scheduler (dpmsolver++) on the EDM folder
  r = await runCli(['sample', dir, '--steps', '20', '--n', '16', '--out', at('s.png')]);
  assert.equal(r.code, 0, r.stderr);
  const s = std(tiles(at('s.png'), 16, 4));
  assert.ok(s > 0.4 && s < 0.58, `diffuse sample: std ${s} (data: 0.5)`);
});
