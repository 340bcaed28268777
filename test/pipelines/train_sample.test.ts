import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { defaultTrainConfig, train } from '../../src/training/trainer.ts';
import { loadTrainedModel, sampleLoaded, sampleModelFolder, writeRunInfo } from '../../src/pipelines/sample_model.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { exportCommand } from '../../src/cli/info_export.ts';
import { assertClose } from '../engine/_gradcheck.ts';
import { tinyUnet } from './_tiny_unet.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-pipe-'));

test('a trained image model folder loads back and samples identically (same seed -> same bytes)', async () => {
  const dir = tmp();
  try {
    const model = tinyUnet();
    // 12 tiny labelled "images" in memory as a data source
    const rng = new Philox(3);
    const x = rng.normal([12, 1, 8, 8]).map((v) => Math.tanh(v));
    const labels = Int32Array.from({ length: 12 }, (_, i) => i % 2);
    let pos = 0;
    const data = {
      describe: () => ({ spec: 'inline', kind: 'images' as const, sampleShape: [1, 8, 8], numClasses: 2, size: 12 }),
      next: () => {
        const idx = [pos % 12, (pos + 1) % 12, (pos + 2) % 12, (pos + 3) % 12];
        pos += 4;
        const b = new NDArray([4, 1, 8, 8]);
        idx.forEach((k, i) => b.data.set(x.data.subarray(k * 64, k * 64 + 64), i * 64));
        return { x: b, labels: Int32Array.from(idx, (k) => labels[k]) };
      },
      state: () => pos,
      restore: (s: unknown) => {
        pos = s as number;
      },
      reference: () => x,
    };
    const cfg = {
      ...defaultTrainConfig(),
      steps: 3,
      batchSize: 4,
      checkpointEvery: 3,
      labelDropout: 0.5,
      noiseSchedule: { num_train_timesteps: 100, beta_schedule: 'linear', clip_sample: true },
    };
    const r = await train({ model, data, config: cfg, outDir: dir });
    writeRunInfo(dir, { data: data.describe(), nullClass: 2, step: 3 });
    assert.equal(r.losses.length, 3);
    assert.ok(r.losses.every(Number.isFinite));
    const a = path.join(dir, 'a.png'),
      b = path.join(dir, 'b.png');
    await sampleModelFolder(dir, { scheduler: 'ddim', steps: 4, n: 4, seed: 9, out: a, classLabel: 1, guidance: 2 });
    await sampleModelFolder(dir, { scheduler: 'ddim', steps: 4, n: 4, seed: 9, out: b, classLabel: 1, guidance: 2 });
    assert.deepEqual(fs.readFileSync(a), fs.readFileSync(b));
    // the loaded weights equal the EMA weights the trainer returned
    const m = loadTrainedModel(dir);
    for (const [k, v] of Object.entries(r.weights)) assert.deepEqual(m.weights[k].data, v.data, k);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mlp-2d learns moons a little in 150 steps and the ONNX export reproduces the denoiser', async () => {
  const dir = tmp();
  try {
    const model = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [32, 32] }));
    const data = openDataSource('moons', { batchSize: 64, seed: 1 });
    const cfg = {
      ...defaultTrainConfig(),
      steps: 150,
      batchSize: 64,
      lr: 3e-3,
      warmupSteps: 10,
      checkpointEvery: 150,
      noiseSchedule: { num_train_timesteps: 100, beta_schedule: 'linear', clip_sample: false },
    };
    const r = await train({ model, data, config: cfg, outDir: dir });
    writeRunInfo(dir, { data: data.describe(), nullClass: null, step: 150 });
    const first = r.losses.slice(0, 20).reduce((s, v) => s + v) / 20,
      last = r.losses.slice(-20).reduce((s, v) => s + v) / 20;
    assert.ok(last < first * 0.9, `loss should fall: ${first} -> ${last}`);
    // export, then run the .onnx file directly in ONNX Runtime
    const file = path.join(dir, 'model.onnx');
    await exportCommand(dir, file);
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.inputNames, ['sample', 'timestep']);
    const x = new Philox(2).normal([5, 2]);
    const t = Float32Array.from([0, 10, 50, 90, 99]);
    const out = await session.run({
      sample: new ort.Tensor('float32', x.data, [5, 2]),
      timestep: new ort.Tensor('float32', t, [5]),
    });
    const m = loadTrainedModel(dir);
    const ref = await denoiserFor(m.model, m.weights)(x, t);
    assertClose(
      (out.out_sample as ort.Tensor).data as Float32Array,
      ref,
      1e-5,
      1e-6,
      'exported vs in-process denoiser',
    );
    // CSV output undoes nothing for toy data and has one row per sample
    const csv = path.join(dir, 's.csv');
    await sampleModelFolder(dir, { scheduler: 'dpmsolver++', steps: 5, n: 7, seed: 0, out: csv });
    assert.equal(fs.readFileSync(csv, 'utf8').trim().split('\n').length, 7);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sampling rejects bad options naming them', async () => {
  const dir = tmp();
  try {
    const model = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));
    const data = openDataSource('moons', { batchSize: 8, seed: 1 });
    await train({
      model,
      data,
      config: { ...defaultTrainConfig(), steps: 2, batchSize: 8, checkpointEvery: 2 },
      outDir: dir,
    });
    const m = loadTrainedModel(dir);
    await assert.rejects(
      sampleLoaded(m, { scheduler: 'nope', steps: 5, n: 2, seed: 0 }),
      /--scheduler nope: unknown; use one of ddpm/,
    );
    await assert.rejects(sampleLoaded(m, { steps: 0, n: 2, seed: 0 }), /--steps: expected a positive integer/);
    await assert.rejects(
      sampleLoaded(m, { steps: 2, n: 2, seed: 0, classLabel: 1 }),
      /--class: this model was trained without classes/,
    );
    await assert.rejects(
      sampleModelFolder(dir, { steps: 2, n: 2, seed: 0, out: path.join(dir, 'x.bmp') }),
      /unknown extension '.bmp'/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
