/**
 * Model folder layouts: the pipeline layout diffuse writes (model_index.json, unet/, scheduler/, diffuse.json),
 * a bare model folder (a pipeline's unet/ uses the pipeline's scheduler; elsewhere the default), diffuse's
 * earlier flat layout (the shipped web/public/models/unet-s-mnist keeps loading), a checkpoint folder (EMA
 * weights); bad folders give one line naming the folder or file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Philox } from '../../src/engine/index.ts';
import { modelConfig, modelFromConfig } from '../../src/models/registry.ts';
import { DDIMScheduler } from '../../src/samplers/index.ts';
import { NDArray } from '../../src/engine/index.ts';
import {
  detectLayout,
  loadModelFolder,
  loadPipelineFolder,
  writeModelFolder,
  saveModelFolder,
  saveCheckpoint,
  folderHoldsModel,
  modelIndexFor,
  type RunInfo,
} from '../../src/folders/index.ts';
import { setWarningHandler } from '../../src/io/warn.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-layout-'));
function captureWarnings<T>(fn: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const prev = setWarningHandler((m) => warnings.push(m));
  try {
    return { value: fn(), warnings };
  } finally {
    setWarningHandler(prev);
  }
}
const unet = () =>
  modelFromConfig(
    modelConfig('unet-s', { block_out_channels: [8, 8, 8], norm_num_groups: 4, attention_head_dim: 4, sample_size: 8 }),
  );
const info: RunInfo = {
  data: { spec: 'images', kind: 'images', sampleShape: [1, 8, 8], numClasses: null, size: 4 },
  nullClass: null,
  step: 12,
};
const oneLine = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), e.message);
    return true;
  });

test('pipeline layout: written as DDPMPipeline loads it, read back exactly; unet/ alone reads the pipeline scheduler', () => {
  const dir = tmp();
  try {
    const m = unet();
    const weights = m.initParams(new Philox(1));
    const sched = new DDIMScheduler({ num_train_timesteps: 100 }).toConfig();
    const written = writeModelFolder(dir, {
      modelConfig: m.toConfig() as unknown as Record<string, unknown>,
      schedulerConfig: sched,
      weights,
      info,
    });
    assert.deepEqual(
      written.map((f) => path.relative(dir, f)),
      [
        'unet/config.json',
        'unet/diffusion_pytorch_model.safetensors',
        'scheduler/scheduler_config.json',
        'model_index.json',
        'diffuse.json',
      ],
    );
    // model_index.json as diffusers' DiffusionPipeline.save_pretrained writes it for DDPMPipeline
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model_index.json'), 'utf8'));
    assert.deepEqual(
      { ...index, _diffusers_version: undefined },
      {
        _class_name: 'DDPMPipeline',
        _diffusers_version: undefined,
        scheduler: ['diffusers', 'DDIMScheduler'],
        unet: ['diffusers', 'UNet2DModel'],
      },
    );
    const r = captureWarnings(() => loadPipelineFolder(dir));
    assert.deepEqual(r.warnings, []);
    assert.equal(r.value.folder!.layout.kind, 'pipeline');
    assert.equal(r.value.folder!.layout.pipelineClass, 'DDPMPipeline');
    assert.equal(r.value.schedulerConfig._class_name, 'DDIMScheduler');
    assert.deepEqual(r.value.info, info);
    for (const [k, v] of Object.entries(weights)) assert.deepEqual(r.value.weights[k].data, v.data, k);
    // the unet/ subfolder alone: a bare model folder inside a pipeline -> the pipeline's scheduler and diffuse.json
    const sub = captureWarnings(() => loadPipelineFolder(path.join(dir, 'unet')));
    assert.deepEqual(sub.warnings, []);
    assert.equal(sub.value.folder!.layout.kind, 'model');
    assert.equal(sub.value.schedulerConfig._class_name, 'DDIMScheduler');
    assert.deepEqual(sub.value.info, info);
    // fp16 on request
    const half = path.join(dir, 'half');
    writeModelFolder(
      half,
      { modelConfig: m.toConfig() as unknown as Record<string, unknown>, schedulerConfig: sched, weights },
      { dtype: 'float16' },
    );
    assert.deepEqual(loadModelFolder(half).weightsDtypes, ['F16']);
    assert.ok(folderHoldsModel(dir) && folderHoldsModel(half));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('MLPModel (not a diffusers class): the same layout, named so diffusers refuses it by name', () => {
  assert.deepEqual(modelIndexFor({ _class_name: 'MLPModel' }, { _class_name: 'DDPMScheduler' }).unet, [
    'diffuse',
    'MLPModel',
  ]);
  assert.equal(modelIndexFor({ _class_name: 'MLPModel' }, {})._class_name, 'DiffusePipeline');
});

test("diffuse's earlier flat layout keeps loading (the shipped unet-s-mnist folder), and a checkpoint folder reads its EMA weights", () => {
  const shipped = new URL('../../web/public/models/unet-s-mnist/', import.meta.url).pathname;
  const r = captureWarnings(() => loadPipelineFolder(shipped));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.value.folder!.layout.kind, 'diffuse');
  assert.equal(r.value.model.numParameters(), 1_112_801 + 11 * 128); // unet-s + an 11-class embedding (10 digits + the null class)
  assert.equal(r.value.info!.step, 3000);
  const dir = tmp();
  try {
    const m = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [4] }));
    const cfg = m.toConfig() as unknown as Record<string, unknown>;
    const raw = m.initParams(new Philox(2)),
      ema = m.initParams(new Philox(3));
    saveCheckpoint(dir, {
      step: 5,
      modelConfig: cfg,
      schedulerConfig: { _class_name: 'DDPMScheduler' },
      params: raw,
      ema,
      trainerState: { runInfo: { ...info, data: { ...info.data, kind: 'toy2d', sampleShape: [2] } } },
    });
    const ck = loadModelFolder(path.join(dir, 'checkpoint-5'));
    assert.equal(ck.layout.kind, 'checkpoint');
    assert.equal(path.basename(ck.weightsFiles[0]), 'ema.safetensors');
    for (const [k, v] of Object.entries(ema)) assert.deepEqual(ck.weights[k].data, v.data, k);
    assert.equal(ck.info!.step, 5);
    // a run folder holding only checkpoints has no model: said so, with the way to restore it
    oneLine(
      () => loadModelFolder(dir),
      /: holds checkpoints but no model \(no model_index\.json\); `diffuse train --resume --out .*` restores it, or read .*checkpoint-5$/,
    );
    saveModelFolder(path.join(dir, 'flat'), cfg, raw, { _class_name: 'DDPMScheduler' });
    assert.equal(detectLayout(path.join(dir, 'flat')).kind, 'diffuse');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad folders: one line each (missing folder, no config, no unet component, missing weights, shape mismatch)', () => {
  const dir = tmp();
  try {
    oneLine(() => loadModelFolder(path.join(dir, 'nowhere')), /nowhere: no such model folder$/);
    oneLine(() => loadModelFolder(dir), /: not a model folder \(no model_index\.json or config\.json\)$/);
    fs.writeFileSync(
      path.join(dir, 'model_index.json'),
      JSON.stringify({
        _class_name: 'StableDiffusionPipeline',
        vae: ['diffusers', 'AutoencoderKL'],
        text_encoder: ['transformers', 'CLIPTextModel'],
      }),
    );
    oneLine(
      () => loadModelFolder(dir),
      /model_index\.json: no "unet" component \(components: vae, text_encoder\); diffuse reads unconditional UNet pipelines such as DDPMPipeline$/,
    );
    fs.writeFileSync(
      path.join(dir, 'model_index.json'),
      JSON.stringify({ _class_name: 'DDPMPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: 'DDPMScheduler' }),
    );
    oneLine(
      () => loadModelFolder(dir),
      /model_index\.json: names the component unet, but .*unet\/config\.json does not exist$/,
    );
    const m = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [4] }));
    const cfg = m.toConfig() as unknown as Record<string, unknown>;
    fs.mkdirSync(path.join(dir, 'unet'));
    fs.writeFileSync(path.join(dir, 'unet', 'config.json'), JSON.stringify(cfg));
    oneLine(() => loadModelFolder(dir), /unet: no model weights/);
    const w = m.initParams(new Philox(0));
    w['layers.0.weight'] = new NDArray([4, 3], new Float32Array(12));
    writeModelFolder(path.join(dir, 'p'), {
      modelConfig: cfg,
      schedulerConfig: { _class_name: 'DDPMScheduler' },
      weights: w,
    });
    oneLine(
      () => loadPipelineFolder(path.join(dir, 'p')),
      /unet\/diffusion_pytorch_model\.safetensors: 1 problem\(s\) with the parameters of MLPModel: parameter 'layers\.0\.weight' has shape \[4, 3\], the model expects \[4, 66\]$/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
