/**
 * Pipeline folders written by real diffusers (tools/fixtures/folders_diffusers_pipeline.py, diffusers 58eb52c):
 * a DDPMPipeline saved with max_shard_size (5 shards + diffusers' index) and one saved in float16 with
 * variant='fp16' (diffusion_pytorch_model.fp16.safetensors). diffuse reads both layouts as diffusers wrote them
 * and its UNet computes what diffusers' computes from them (1e-5, float32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { setWarningHandler } from '../../src/io/warn.ts';

const FIX = new URL('../fixtures/folders/', import.meta.url).pathname;
const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'ddpm-tiny-reference.json'), 'utf8')) as {
  x: number[];
  x_shape: number[];
  t: number[];
  fp32: number[];
  fp16_weights: number[];
  parameters: number;
};

for (const [name, expected, dtype, files] of [
  ['ddpm-tiny-sharded', 'fp32', 'F32', 5],
  ['ddpm-tiny-fp16', 'fp16_weights', 'F16', 1],
] as const) {
  test(`${name}: read as diffusers wrote it (${files} weights file(s), ${dtype}); the forward pass equals diffusers' to 1e-5`, async () => {
    const warnings: string[] = [];
    const prev = setWarningHandler((m) => warnings.push(m));
    let m: ReturnType<typeof loadPipelineFolder>;
    try {
      m = loadPipelineFolder(path.join(FIX, name));
    } finally {
      setWarningHandler(prev);
    }
    assert.deepEqual(
      warnings.filter((w) => !/unknown key/.test(w)),
      [],
    );
    const f = m.folder!;
    assert.equal(f.layout.kind, 'pipeline');
    assert.equal(f.layout.pipelineClass, 'DDPMPipeline');
    assert.equal(f.layout.weights.kind, files > 1 ? 'sharded' : 'single');
    assert.equal(f.layout.weights.variant, dtype === 'F16' ? 'fp16' : null);
    assert.equal(f.weightsFiles.length, files);
    assert.deepEqual(f.weightsDtypes, [dtype]);
    assert.equal(m.schedulerConfig._class_name, 'DDIMScheduler');
    assert.equal(m.model.numParameters(), ref.parameters);
    const y = await denoiserFor(m.model, m.weights)(
      new NDArray(ref.x_shape, Float32Array.from(ref.x)),
      Float32Array.from(ref.t),
    );
    let err = 0,
      scale = 0;
    for (let i = 0; i < y.size; i++) {
      err = Math.max(err, Math.abs(y.data[i] - ref[expected][i]));
      scale = Math.max(scale, Math.abs(ref[expected][i]));
    }
    assert.ok(scale > 0.05, `outputs of a visible size (${scale})`);
    assert.ok(err < 1e-5, `max |diffuse - diffusers| = ${err}`);
  });
}
