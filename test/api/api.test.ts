/**
 * The public API (src/index.ts) as a user meets it: train on plain data, sample with two
 * schedulers, save and load models, pipelines and schedulers. Expected values are closed forms
 * (the ring's radius, identical outputs after a round trip, unchanged weights at lr 0).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DDIMScheduler,
  DDPMPipeline,
  DPMSolverMultistepScheduler,
  MLPModel,
  type NDArray,
  Philox,
  PretrainedModel,
  UNet2DModel,
  train,
} from '../../src/index.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-api-'));

/** Points on a circle of radius r (angles from a seeded generator). */
function ring(n: number, r: number, seed: number): number[][] {
  const u = new Philox(seed).uniform([n]).data;
  return Array.from(u, (a) => [r * Math.cos(2 * Math.PI * a), r * Math.sin(2 * Math.PI * a)]);
}

function meanRadius(x: NDArray): number {
  let s = 0;
  for (let i = 0; i < x.shape[0]; i++) s += Math.hypot(x.data[2 * i], x.data[2 * i + 1]);
  return s / x.shape[0];
}

test('train() on in-memory points (no folder) samples a ring of radius 2 with DDIM and DPM-Solver++, unclipped', async () => {
  const progress: number[] = [];
  const { pipeline, losses, steps } = await train({
    data: ring(4096, 2, 0),
    steps: 400,
    seed: 0,
    onProgress: (p) => progress.push(p.step),
  });
  assert.equal(steps, 400);
  assert.equal(losses.length, 400);
  assert.deepEqual(progress.slice(0, 3), [1, 2, 3]);
  assert.ok(
    losses.slice(-50).reduce((a, b) => a + b) / 50 < losses.slice(0, 50).reduce((a, b) => a + b) / 50,
    'loss falls',
  );
  for (const name of ['ddim', 'dpmsolver++']) {
    const x = await pipeline
      .withScheduler(name)
      .generate({ batchSize: 500, numInferenceSteps: 20, generator: new Philox(1) });
    assert.deepEqual(x.shape, [500, 2]);
    const r = meanRadius(x);
    // DDIM's default clip_sample (x0 in [-1, 1]^2) would keep every point within radius sqrt(2) ~ 1.41.
    assert.ok(r > 1.6 && r < 2.4, `${name}: mean radius ${r.toFixed(3)} (data: 2)`);
  }
});

test('train() writes a model folder that DDPMPipeline.fromPretrained loads and samples identically', async () => {
  const dir = tmp();
  const { pipeline } = await train({ data: ring(512, 2, 1), steps: 30, batchSize: 64, outDir: dir, seed: 3 });
  const loaded = await DDPMPipeline.fromPretrained(dir);
  const a = await pipeline.withScheduler('ddim').generate({ batchSize: 16, numInferenceSteps: 5, generator: 7 });
  const b = await loaded.withScheduler('ddim').generate({ batchSize: 16, numInferenceSteps: 5, generator: 7 });
  assert.deepEqual(Array.from(b.data), Array.from(a.data));
  assert.equal(loaded.info?.step, 30);
});

test('standardize: data far from unit scale is trained standardised and sampled back in data units', async () => {
  const data = ring(2048, 2, 2).map(([x, y]) => [100 + 10 * x, -50 + 10 * y]);
  const { pipeline } = await train({ data, steps: 300, standardize: true, seed: 1 });
  const x = await pipeline
    .withScheduler('dpmsolver++')
    .generate({ batchSize: 400, numInferenceSteps: 20, generator: 2 });
  let mx = 0,
    my = 0;
  for (let i = 0; i < 400; i++) {
    mx += x.data[2 * i] / 400;
    my += x.data[2 * i + 1] / 400;
  }
  // The ring (radius 20) has std 20 / sqrt(2) ~ 14 per axis. Within 0.4 of that of the true centre
  // (unit-scale noise on unstandardised data this wide would not come close):
  assert.ok(
    Math.abs(mx - 100) < 5.6 && Math.abs(my + 50) < 5.6,
    `centre (${mx.toFixed(2)}, ${my.toFixed(2)}) vs (100, -50)`,
  );
});

test('train() takes an iterable and an async iterable of batches, and a Float32Array with sampleShape', async () => {
  const rng = new Philox(5);
  function* batches() {
    for (;;) yield rng.normal([32, 3]);
  }
  async function* asyncBatches() {
    for (;;) yield { x: rng.normal([32, 3]) };
  }
  for (const data of [batches(), asyncBatches()]) {
    const r = await train({ data, batchSize: 32, steps: 5 });
    assert.deepEqual(r.model.sampleShape, [3]);
    assert.equal(r.losses.length, 5);
  }
  const flat = rng.normal([64 * 3]).data;
  const r = await train({ data: flat, sampleShape: [3], batchSize: 16, steps: 3 });
  assert.deepEqual(r.model.sampleShape, [3]);
  await assert.rejects(train({ data: flat, steps: 3 }), /sampleShape/);
  await assert.rejects(
    train({
      data: (function* () {
        yield rng.normal([8, 2]);
      })(),
      batchSize: 16,
      steps: 2,
    }),
    /8 samples, expected batchSize 16/,
  );
  await assert.rejects(
    train({
      data: [
        [0, Number.NaN],
        [1, 1],
      ],
      batchSize: 2,
      steps: 1,
    }),
    /not finite/,
  );
});

test("fine-tuning: train({ model }) starts from the model's weights (at lr 1e-30 they stay put)", async () => {
  const base = MLPModel.fromConfig('mlp-2d', { seed: 9 });
  const fresh = MLPModel.fromConfig('mlp-2d', { seed: 0 }); // what train() would start from otherwise
  const { model } = await train({
    data: ring(256, 2, 3),
    model: base,
    steps: 3,
    lr: 1e-30,
    emaDecay: null,
    batchSize: 64,
  });
  let moved = 0,
    apart = 0;
  for (const [k, w] of Object.entries(base.weights)) {
    for (let i = 0; i < w.size; i++) {
      moved = Math.max(moved, Math.abs(model.weights[k].data[i] - w.data[i]));
      apart = Math.max(apart, Math.abs(fresh.weights[k].data[i] - w.data[i]));
    }
  }
  assert.ok(moved < 1e-20, `moved ${moved}`);
  assert.ok(apart > 0.01, 'the two initialisations differ');
});

test('UNet2DModel: fromConfig, forward, savePretrained, fromPretrained round trip; class checks', async () => {
  const unet = UNet2DModel.fromConfig(
    {
      sample_size: 8,
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
  assert.deepEqual(unet.sampleShape, [1, 8, 8]);
  const x = new Philox(0).normal([2, 1, 8, 8]);
  const y = await unet.forward(x, [10, 500]);
  assert.deepEqual(y.shape, [2, 1, 8, 8]);
  const dir = tmp();
  await unet.savePretrained(dir);
  const back = await UNet2DModel.fromPretrained(dir);
  assert.equal(back.numParameters, unet.numParameters);
  assert.deepEqual(Array.from((await back.forward(x, [10, 500])).data), Array.from(y.data));
  await assert.rejects(MLPModel.fromPretrained(dir), /holds a UNet2DModel, not a MLPModel/);
  assert.ok((await PretrainedModel.fromPretrained(dir)) instanceof PretrainedModel);
  assert.throws(() => MLPModel.fromConfig('unet-s'), /is a UNet2DModel, not a MLPModel/);
});

test('schedulers: fromPretrained / savePretrained round trip, pipeline subfolder lookup, clear errors', async () => {
  const dir = tmp();
  const s = new DDIMScheduler({ beta_schedule: 'squaredcos_cap_v2', prediction_type: 'v_prediction' });
  await s.savePretrained(path.join(dir, 'scheduler'));
  const back = await DDIMScheduler.fromPretrained(dir); // found in scheduler/ as in a pipeline folder
  assert.deepEqual(back.toConfig(), s.toConfig());
  const swapped = await DPMSolverMultistepScheduler.fromPretrained(dir);
  assert.equal(swapped.config.beta_schedule, 'squaredcos_cap_v2');
  await assert.rejects(DDIMScheduler.fromPretrained(path.join(dir, 'nope')), /no scheduler_config\.json/);
});

test('generate(): bad batchSize / steps / labels are one clear line', async () => {
  const pipe = new DDPMPipeline(MLPModel.fromConfig('mlp-2d'));
  await assert.rejects(pipe.generate({ batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  await assert.rejects(pipe.generate({ numInferenceSteps: 2.5 }), /numInferenceSteps must be a positive integer/);
  await assert.rejects(pipe.generate({ classLabels: 1 }), /no class embedding/);
  await assert.rejects(pipe.generate({ guidanceScale: 2 }), /label dropout/);
});

test('DDPMPipeline.savePretrained writes the pipeline layout (model_index.json, unet/, scheduler/); float16 weights load back', async () => {
  const dir = tmp();
  const pipe = new DDPMPipeline(MLPModel.fromConfig('mlp-2d', { seed: 4 }));
  await pipe.savePretrained(dir, { dtype: 'float16' });
  for (const f of [
    'model_index.json',
    'unet/config.json',
    'unet/diffusion_pytorch_model.safetensors',
    'scheduler/scheduler_config.json',
  ]) {
    assert.ok(fs.existsSync(path.join(dir, f)), f);
  }
  const back = await DDPMPipeline.fromPretrained(dir);
  for (const [k, w] of Object.entries(pipe.unet.weights)) {
    const b = back.unet.weights[k]!;
    for (let i = 0; i < w.size; i++) {
      // float16 keeps 11 significant bits: relative error <= 2^-11 (plus the subnormal floor).
      assert.ok(
        Math.abs(b.data[i]! - w.data[i]!) <= Math.abs(w.data[i]!) * 2 ** -11 + 2 ** -24,
        `${k}[${i}]: ${b.data[i]} vs ${w.data[i]}`,
      );
    }
  }
});
