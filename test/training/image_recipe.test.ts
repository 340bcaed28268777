/**
 * The image recipe (IMAGE_RECIPE, the sweep winner of docs/mnist/README.md) is the default of image training:
 * `diffuse train --data mnist` with no flags and the library's `train()` on images train the EDM objective with
 * its values; a typed DDPM-style objective flag (--objective eps, --prediction-type, ...) trains exactly as before
 * the recipe; the pipeline `train()` returns samples the EDM model through the formulation adapter, and its model
 * folder loads back (DDPMPipeline.fromPretrained) to the same samples.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGE_RECIPE, imageRecipeEdm } from '../../src/training/recipes.ts';
import { EdmObjective } from '../../src/training/edm_objective.ts';
import { NDArray } from '../../src/engine/index.ts';
import {
  applyImageRecipeDefaults,
  applyToyRecipeDefaults,
  trainConfigFrom,
  type TrainCliOptions,
} from '../../src/cli/train_command.ts';
import { train } from '../../src/api/train.ts';
import { DDPMPipeline } from '../../src/api/ddpm_pipeline.ts';
import { Philox } from '../../src/engine/index.ts';

/** What commander hands `trainCommand` for `diffuse train --data mnist --model unet-s --out runs/x` (src/cli/main.ts). */
const COMMANDER_DEFAULTS = {
  model: 'mlp-2d',
  steps: 2000,
  batchSize: 128,
  lr: 1e-3,
  gradAccum: 1,
  weightDecay: 0,
  maxGradNorm: 1,
  ema: 0.999,
  predictionType: 'epsilon',
  betaSchedule: 'linear',
  trainTimesteps: 1000,
  keepLast: 2,
  imageSize: 28,
  channels: 1,
  seed: 0,
};
const cli = (typed: Record<string, unknown> = {}, data = 'mnist') => {
  const o = {
    ...COMMANDER_DEFAULTS,
    data,
    model: 'unet-s',
    out: 'runs/x',
    ...typed,
    explicit: ['data', 'model', 'out', ...Object.keys(typed)],
  } as unknown as TrainCliOptions;
  return applyImageRecipeDefaults(applyToyRecipeDefaults(o));
};

test('diffuse train --data mnist with no recipe flags trains IMAGE_RECIPE: EDM, sigma_data 0.5, lr 2e-3 cosine, batch 64', () => {
  const c = trainConfigFrom(cli());
  assert.equal(c.objective.formulation, 'edm');
  assert.equal(c.objective.edm?.sigmaData, 0.5);
  assert.deepEqual([c.objective.edm?.pMean, c.objective.edm?.pStd], [IMAGE_RECIPE.pMean, IMAGE_RECIPE.pStd]);
  assert.deepEqual(
    {
      lr: c.lr,
      minLr: c.minLr,
      batchSize: c.batchSize,
      warmupSteps: c.warmupSteps,
      maxGradNorm: c.maxGradNorm,
      emaDecay: c.emaDecay,
      emaPower: c.emaPower,
      steps: c.steps,
    },
    {
      lr: 2e-3,
      minLr: 0,
      batchSize: 64,
      warmupSteps: 100,
      maxGradNorm: 1,
      emaDecay: 0.999,
      emaPower: 0.75,
      steps: 2000,
    },
  );
  assert.equal(IMAGE_RECIPE.objective, 'edm');
  assert.ok(Object.isFrozen(IMAGE_RECIPE) && Object.isFrozen(IMAGE_RECIPE.ema), 'consumers cannot change the recipe');
  // an image folder is image data too
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-imgs-'));
  try {
    assert.equal(trainConfigFrom(cli({}, dir)).objective.formulation, 'edm');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('typed flags win; a DDPM-style objective flag trains exactly as before the recipe', () => {
  const before = (typed: Record<string, unknown>) =>
    trainConfigFrom({
      ...COMMANDER_DEFAULTS,
      data: 'mnist',
      model: 'unet-s',
      out: 'runs/x',
      ...typed,
    } as unknown as TrainCliOptions);
  for (const typed of [
    { objective: 'eps' },
    { predictionType: 'v_prediction' },
    { snrGamma: 5 },
    { betaSchedule: 'squaredcos_cap_v2' },
  ]) {
    const c = trainConfigFrom(cli(typed));
    assert.deepEqual(c, before(typed), JSON.stringify(typed));
    assert.equal(c.objective.formulation, undefined);
    assert.equal(c.lr, 1e-3);
  }
  const edm = trainConfigFrom(cli({ objective: 'edm' }));
  assert.deepEqual(
    [edm.objective.formulation, edm.lr, edm.batchSize],
    ['edm', 2e-3, 64],
    '--objective edm typed: the recipe',
  );
  const o = trainConfigFrom(cli({ lr: 5e-4, batchSize: 32, sigmaData: 0.7, steps: 50 }));
  assert.deepEqual([o.lr, o.batchSize, o.objective.edm?.sigmaData, o.warmupSteps], [5e-4, 32, 0.7, 5]);
  assert.equal(trainConfigFrom(cli({ noEma: true, ema: undefined })).emaDecay, null);
  // the training noise levels scale with a typed sigma_data (x -> k x, sigma -> k sigma: ln sigma + ln k)
  assert.ok(Math.abs((o.objective.edm?.pMean ?? NaN) - (IMAGE_RECIPE.pMean + Math.log(0.7 / 0.5))) < 1e-12);
  const p = trainConfigFrom(cli({ pMean: -1.2, pStd: 1 })).objective.edm;
  assert.deepEqual([p?.pMean, p?.pStd], [-1.2, 1], 'typed --p-mean / --p-std win');
  assert.throws(
    () => trainConfigFrom(cli({ objective: 'eps', pMean: -1 })),
    /^Error: --p-mean -1: only used with --objective edm$/,
  );
  // toy data, library callers (no `explicit`) and resumed runs are not touched
  assert.equal(trainConfigFrom(cli({}, 'moons')).objective.formulation, undefined);
  const lib = { ...COMMANDER_DEFAULTS, data: 'mnist', model: 'unet-s', out: 'x' } as unknown as TrainCliOptions;
  assert.equal(applyImageRecipeDefaults(lib).objective, undefined);
  assert.equal(cli({ resume: true }).objective, undefined);
});

const TINY_UNET = {
  _class_name: 'UNet2DModel',
  sample_size: 8,
  in_channels: 1,
  out_channels: 1,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'UpBlock2D'],
  norm_num_groups: 4,
};

test('train() on images: the EDM objective by default; its pipeline and its saved folder sample alike', async () => {
  const images = new Philox(3).uniform([8, 1, 8, 8]).map((v) => 2 * v - 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-edm-train-'));
  try {
    const lrs: number[] = [];
    const r = await train({
      data: images,
      model: TINY_UNET,
      steps: 2,
      batchSize: 4,
      outDir: dir,
      onProgress: (p) => lrs.push(p.lr),
    });
    assert.equal(r.pipeline.trainingConfig?._class_name, 'EDMDPMSolverMultistepScheduler');
    assert.equal(r.pipeline.trainingConfig?.sigma_data, IMAGE_RECIPE.sigmaData);
    // the run trained with the recipe's noise levels (its checkpoint records the objective)
    const ck = fs.readdirSync(dir).find((f) => f.startsWith('checkpoint-'));
    assert.ok(ck, `a checkpoint in ${fs.readdirSync(dir).join(', ')}`);
    const state = JSON.parse(fs.readFileSync(path.join(dir, ck, 'trainer_state.json'), 'utf8'));
    assert.deepEqual(state.trainConfig.objective.edm, imageRecipeEdm());
    assert.equal(r.pipeline.scheduler.className, IMAGE_RECIPE.sampler.scheduler);
    const a = await r.pipeline.generate({ batchSize: 2, numInferenceSteps: 4, generator: 5 });
    assert.deepEqual(a.shape, [2, 1, 8, 8]);
    assert.ok(a.data.every(Number.isFinite));
    const loaded = await DDPMPipeline.fromPretrained(dir);
    assert.equal(
      loaded.scheduler.className,
      'EDMDPMSolverMultistepScheduler',
      'the folder records the EDM formulation',
    );
    const b = await loaded.generate({ batchSize: 2, numInferenceSteps: 4, generator: 5 });
    let d = 0;
    for (let i = 0; i < a.size; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
    assert.ok(d < 1e-4, `train() pipeline vs loaded folder, each on its own sampler: max diff ${d}`);
    // saving a pipeline that samples on DDIM keeps the EDM formulation
    const onDdim = r.pipeline.withScheduler('ddim');
    assert.equal(onDdim.scheduler.className, 'DDIMScheduler');
    const again = path.join(dir, 'again');
    await onDdim.savePretrained(again);
    assert.equal((await DDPMPipeline.fromPretrained(again)).scheduler.className, 'EDMDPMSolverMultistepScheduler');
    // the DDPM-style objective, asked for, trains with the previous defaults (lr 1e-3, half the recipe's)
    const epsLrs: number[] = [];
    const e = await train({
      data: images,
      model: TINY_UNET,
      steps: 2,
      batchSize: 4,
      objective: 'eps',
      onProgress: (p) => epsLrs.push(p.lr),
    });
    assert.equal(e.pipeline.scheduler.className, 'DDPMScheduler');
    assert.ok(Math.abs(lrs[0] / epsLrs[0] - IMAGE_RECIPE.lr / 1e-3) < 1e-9, `${lrs[0]} vs ${epsLrs[0]}`);
    await assert.rejects(
      train({ data: images, model: TINY_UNET, steps: 1, batchSize: 4, objective: 'edm', snrGamma: 5 }),
      /snrGamma: belongs to objective 'eps'/,
    );
    await assert.rejects(
      train({ data: images, model: TINY_UNET, steps: 1, batchSize: 4, objective: 'eps', pMean: -1 }),
      /pMean: -1 is only used with objective 'edm'/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the recipe's training noise levels: ln sigma ~ N(pMean, pStd^2), read back from the drawn noise labels", () => {
  // c_noise = ln(sigma) / 4 (EDM), so 4 t of a batch are the drawn ln sigma: their mean and standard deviation
  // must match the log-normal's parameters within sampling error (n = 4000: SE of the mean 1.2 / 63)
  for (const sd of [0.5, 1]) {
    const cfg = imageRecipeEdm(sd);
    const n = 4000;
    const b = new EdmObjective(cfg).makeBatch(new NDArray([n, 1]), new Philox(11));
    const ls = Array.from(b.t.data, (t) => 4 * t);
    const mean = ls.reduce((a, v) => a + v, 0) / n;
    const std = Math.sqrt(ls.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    const want = IMAGE_RECIPE.pMean + Math.log(sd / 0.5);
    assert.ok(
      Math.abs(mean - want) < 4 * (IMAGE_RECIPE.pStd / Math.sqrt(n)),
      `sigma_data ${sd}: mean ln sigma ${mean} vs ${want}`,
    );
    assert.ok(Math.abs(std / IMAGE_RECIPE.pStd - 1) < 0.05, `sigma_data ${sd}: std ln sigma ${std}`);
  }
});
