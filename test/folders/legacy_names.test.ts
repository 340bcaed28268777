/**
 * A model folder saved by an old diffusers version (attention weights named query/key/value/proj_attn)
 * loads through loadPipelineFolder with the weights renamed as diffusers renames them on load.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UNet2DModel } from '../../src/api/pretrained_model.ts';
import { loadPipelineFolder } from '../../src/folders/pretrained.ts';
import { writeWeights } from '../../src/folders/weights.ts';

const LEGACY: [RegExp, string][] = [
  [/\.to_q\./, '.query.'],
  [/\.to_k\./, '.key.'],
  [/\.to_v\./, '.value.'],
  [/\.to_out\.0\./, '.proj_attn.'],
];

test('old attention names (query/key/value/proj_attn) load as to_q/to_k/to_v/to_out.0', async () => {
  const unet = UNet2DModel.fromConfig({
    sample_size: 8,
    in_channels: 1,
    out_channels: 1,
    block_out_channels: [8, 16],
    layers_per_block: 1,
    norm_num_groups: 4,
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
    attention_head_dim: 8,
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-legacy-'));
  await unet.savePretrained(dir);
  const legacy = Object.fromEntries(
    Object.entries(unet.weights).map(([k, v]) => [LEGACY.reduce((n, [re, to]) => n.replace(re, to), k), v]),
  );
  const renamed = Object.keys(legacy).filter((k) => !(k in unet.weights));
  assert.ok(renamed.length >= 8, `renamed ${renamed.length} tensors`);
  writeWeights(dir, legacy);
  const m = loadPipelineFolder(dir);
  assert.deepEqual(Object.keys(m.weights).sort(), Object.keys(unet.weights).sort());
  for (const [k, w] of Object.entries(unet.weights))
    assert.deepEqual(Array.from(m.weights[k]!.data), Array.from(w.data), k);
});
