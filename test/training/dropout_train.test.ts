/**
 * Dropout in training (a UNet2DModel config with dropout > 0): the training graph draws its masks from a
 * seeded stream, so two runs with the same seed give the same losses, and the masks change the losses
 * against dropout 0 from the same initial weights; the sampling graph has no dropout (nn/dropout.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTrainConfig, train } from '../../src/training/trainer.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { UNet2DModel } from '../../src/models/unet2d.ts';
import { traceDenoiser } from '../../src/pipelines/denoiser.ts';
import { Philox } from '../../src/engine/index.ts';

const config = (dropout: number) => ({
  sample_size: 28,
  in_channels: 1,
  out_channels: 1,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  norm_num_groups: 4,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
  attention_head_dim: 8,
  dropout,
});

async function losses(dropout: number, seed: number): Promise<number[]> {
  const model = new UNet2DModel(config(dropout));
  const data = openDataSource('mnist', { batchSize: 4, seed: 0, limit: 16 });
  const r = await train({
    model,
    data,
    config: { ...defaultTrainConfig(), steps: 3, batchSize: 4, seed, emaDecay: null, warmupSteps: 0 },
  });
  return r.losses;
}

test('training with dropout: seeded (same seed, same losses) and active (differs from dropout 0)', {
  timeout: 120_000,
}, async () => {
  const a = await losses(0.5, 1),
    b = await losses(0.5, 1),
    c = await losses(0, 1);
  assert.deepEqual(a, b, 'same seed, same dropout masks');
  assert.equal(a.length, 3);
  assert.notDeepEqual(a, c, 'dropout 0.5 changes the training losses');
  const m = new UNet2DModel(config(0.5));
  const g = traceDenoiser(m, m.initParams(new Philox(0)), [1, 28, 28]);
  assert.ok(!g.nodes.some((n) => n.op === 'greater_equal'), 'no dropout in the sampling graph');
});
