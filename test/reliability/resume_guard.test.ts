/**
 * Honest resume (issue 15 item 6), in process: a resumed run must continue the run it names. A
 * changed setting is an error naming it (unless overridden on purpose), a step count below the
 * checkpoint's is refused, and a checkpoint missing its optimizer or EMA file, or holding NaN
 * weights, is refused instead of silently continuing with different weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { defaultTrainConfig, train, type TrainConfig } from '../../src/training/trainer.ts';
import { checkResumeConfig, diffTrainConfig, resumeKeyFor } from '../../src/training/resume_config.ts';
import { listCheckpoints, loadCheckpoint, writeCheckpoint } from '../../src/folders/checkpoint.ts';
import { setWarningHandler } from '../../src/io/warn.ts';
import { tmpDir } from '../e2e/_cli.ts';

const config = (o: Partial<TrainConfig> = {}): TrainConfig => ({
  ...defaultTrainConfig(),
  steps: 4,
  batchSize: 8,
  warmupSteps: 1,
  checkpointEvery: 2,
  keepLast: 3,
  noiseSchedule: { num_train_timesteps: 50, beta_schedule: 'linear', clip_sample: false },
  ...o,
});
const mlp = () => modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));
const moons = (batchSize = 8) => openDataSource('moons', { batchSize, seed: 1 });

test('checkResumeConfig: names the flag, the stored and the new value; --override accepts lr and steps only', () => {
  const a = config();
  assert.deepEqual(diffTrainConfig(a, config()), []);
  const where = 'runs/a/checkpoint-2';
  assert.throws(
    () => checkResumeConfig(a, config({ lr: 5e-4 }), { step: 2, where }),
    /^Error: --lr: runs\/a\/checkpoint-2 was trained with lr = 0\.001, this run asks for 0\.0005; pass --override lr to change it on purpose \(nothing was changed\)$/,
  );
  assert.doesNotThrow(() => checkResumeConfig(a, config({ lr: 5e-4 }), { step: 2, where, override: ['lr'] }));
  assert.doesNotThrow(() => checkResumeConfig(a, config({ steps: 10 }), { step: 2, where, override: ['--steps'] }));
  assert.throws(
    () => checkResumeConfig(a, config({ steps: 10 }), { step: 2, where }),
    /^Error: --steps: .*steps = 4, this run asks for 10; pass --override steps/,
  );
  // below the checkpoint's step: never, even with an override
  assert.throws(
    () => checkResumeConfig(a, config({ steps: 1 }), { step: 2, where, override: ['steps'] }),
    /^Error: --steps 1: runs\/a\/checkpoint-2 is already at step 2; resuming can only continue to --steps >= 2/,
  );
  for (const [change, flag] of [
    [{ batchSize: 16 }, '--batch-size'],
    [{ emaDecay: null }, '--ema / --no-ema'],
    [{ objective: { predictionType: 'v_prediction' } }, '--prediction-type'],
    [{ noiseSchedule: { ...a.noiseSchedule, beta_schedule: 'scaled_linear' } }, '--beta-schedule / --train-timesteps'],
    [{ gradAccumSteps: 2 }, '--grad-accum'],
  ] as const) {
    assert.throws(
      () => checkResumeConfig(a, config(change as Partial<TrainConfig>), { step: 2, where }),
      (e: Error) => e.message.startsWith(`${flag}: `) && e.message.includes('it changes what is trained'),
      flag,
    );
  }
  assert.throws(
    () =>
      checkResumeConfig(a, config({ noiseSchedule: { ...a.noiseSchedule, beta_schedule: 'scaled_linear' } }), {
        step: 2,
        where,
      }),
    /noiseSchedule\.beta_schedule = linear, this run asks for scaled_linear/,
  );
  assert.throws(
    () => checkResumeConfig(a, config({ batchSize: 16 }), { step: 2, where, override: ['batch-size'] }),
    /^Error: --override batch-size: --batch-size changes what is trained and cannot be changed on resume/,
  );
  assert.throws(
    () => checkResumeConfig(a, config(), { step: 2, where, override: ['colour'] }),
    /^Error: --override colour: unknown setting/,
  );
  // an EDM run's training noise levels (--p-mean / --p-std) change what is trained, as --sigma-data does
  const edm = (pMean: number) =>
    config({ objective: { formulation: 'edm', edm: { sigmaData: 0.5, pMean, pStd: 1.2 } } });
  assert.deepEqual(diffTrainConfig(edm(-0.6), edm(-0.6)), []);
  assert.throws(
    () => checkResumeConfig(edm(-0.6), edm(-1.2), { step: 2, where }),
    (e: Error) =>
      e.message.startsWith('--sigma-data / --p-mean / --p-std: ') &&
      e.message.includes('objective.edm.pMean = -0.6, this run asks for -1.2'),
  );
  assert.equal(resumeKeyFor('p-mean')?.key, 'objective.edm');
  assert.equal(resumeKeyFor('weight-decay')?.key, 'weightDecay');
  assert.equal(resumeKeyFor('--max-grad-norm')?.key, 'maxGradNorm');
});

test('train(resume): a changed lr, a lower step count, changed data, a missing optimizer or EMA file and NaN weights are refused; nothing is written', {
  timeout: 120_000,
}, async () => {
  const out = tmpDir();
  const prev = setWarningHandler(() => {});
  try {
    await train({ model: mlp(), data: moons(), config: config(), outDir: out });
    assert.deepEqual(listCheckpoints(out), [2, 4]);
    const files = () => fs.readdirSync(out).sort().join(',');
    const before = files();
    const resume = (c: TrainConfig, extra: Record<string, unknown> = {}) =>
      train({ model: mlp(), data: moons(c.batchSize), config: c, outDir: out, resume: true, ...extra });
    await assert.rejects(
      resume(config({ lr: 2e-3 })),
      /^Error: --lr: .*checkpoint-4 was trained with lr = 0\.001, this run asks for 0\.002/,
    );
    await assert.rejects(resume(config({ steps: 2 })), /--steps 2: .*checkpoint-4 is already at step 4/);
    await assert.rejects(
      train({
        model: mlp(),
        data: openDataSource('circles', { batchSize: 8, seed: 1 }),
        config: config(),
        outDir: out,
        resume: true,
      }),
      /^Error: --data circles: .*checkpoint-4 was trained on 'moons'/,
    );
    assert.equal(files(), before);
    // an override continues on purpose (to 6 steps with a new lr)
    const r = await resume(config({ steps: 6, lr: 2e-3 }), { override: ['lr', 'steps'] });
    assert.equal(r.steps, 6);
    assert.deepEqual(listCheckpoints(out), [2, 4, 6]);
    // a checkpoint without optimizer.safetensors / ema.safetensors
    const ck6 = path.join(out, 'checkpoint-6');
    fs.renameSync(path.join(ck6, 'optimizer.safetensors'), path.join(out, 'opt.keep'));
    await assert.rejects(
      resume(config({ steps: 8, lr: 2e-3 }), { override: ['lr', 'steps'] }),
      /^Error: --resume: .*checkpoint-6 has no optimizer\.safetensors \(AdamW state\)/,
    );
    fs.renameSync(path.join(out, 'opt.keep'), path.join(ck6, 'optimizer.safetensors'));
    fs.renameSync(path.join(ck6, 'ema.safetensors'), path.join(out, 'ema.keep'));
    await assert.rejects(
      resume(config({ steps: 8, lr: 2e-3 }), { override: ['lr', 'steps'] }),
      /^Error: --resume: .*checkpoint-6 has no ema\.safetensors although the run uses EMA/,
    );
    fs.renameSync(path.join(out, 'ema.keep'), path.join(ck6, 'ema.safetensors'));
    // NaN weights in the newest checkpoint: refused (not later blamed as the "last good checkpoint")
    const ck = loadCheckpoint(ck6);
    const [name] = Object.keys(ck.params);
    ck.params[name] = new NDArray(ck.params[name].shape, new Float32Array(ck.params[name].size).fill(NaN));
    writeCheckpoint(out, ck);
    await assert.rejects(
      resume(config({ steps: 8, lr: 2e-3 }), { override: ['lr', 'steps'] }),
      /^Error: --resume: .*checkpoint-6 holds non-finite weights \(NaN or inf\), so it is not a good checkpoint to continue/,
    );
  } finally {
    setWarningHandler(prev);
    fs.rmSync(out, { recursive: true, force: true });
  }
});
