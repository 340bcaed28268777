/**
 * The commit protocol of a training save (src/folders/commit.ts), in process: a full disk (ENOSPC) injected
 * at every write, rename, folder creation and removal of a save leaves a folder whose model is readable and
 * never older than its newest checkpoint — after --resume's verify-and-repair, always exactly the EMA
 * weights of a saved step. A model left older than the newest checkpoint (what a kill between the two
 * used to leave) is repaired from it; a run folder in the earlier flat layout moves to the pipeline layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import {
  commitTrainingSave,
  installFaultInjection,
  listCheckpoints,
  loadModelFolder,
  resumeLatestCheckpoint,
  verifyTopLevelModel,
  saveModelFolder,
  writeCheckpoint,
  type TrainingSave,
  type RunInfo,
} from '../../src/folders/index.ts';
import { setAtomicFaultHook } from '../../src/io/atomic.ts';

const cfg = { _class_name: 'MLPModel', in_channels: 2, out_channels: 2, hidden_dims: [2], time_embedding_dim: 4 };
const sched = { _class_name: 'DDPMScheduler', num_train_timesteps: 10 };
const info: RunInfo = {
  data: { spec: 'moons', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
  nullClass: null,
  step: 0,
};
const w = (v: number): Record<string, NDArray> => ({ 'proj_out.bias': NDArray.from([v, -v]) });
const save = (step: number): TrainingSave => ({
  step,
  keepLast: 1,
  model: { modelConfig: cfg, schedulerConfig: sched, weights: w(step + 0.5), info: { ...info, step } }, // EMA = step + 0.5
  checkpoint: {
    step,
    modelConfig: cfg,
    schedulerConfig: sched,
    params: w(step),
    ema: w(step + 0.5),
    optimizer: { m: w(0), v: w(0), t: step },
    trainerState: { runInfo: { ...info, step } },
  },
});
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-commit-'));
const modelStep = (dir: string) => {
  const f = loadModelFolder(dir);
  return { bias: Array.from(f.weights['proj_out.bias'].data), step: f.info!.step };
};

test('ENOSPC at every operation of a save: the model is never older than the newest checkpoint, and resume repairs to a saved step', () => {
  // the operations of one save (all after the first save exist already)
  const probe = tmp();
  const ops: string[] = [];
  try {
    commitTrainingSave(probe, save(10));
    setAtomicFaultHook((op, p) => {
      ops.push(`${op} ${path.relative(probe, p)}`);
    });
    commitTrainingSave(probe, save(20));
  } finally {
    setAtomicFaultHook(null);
    fs.rmSync(probe, { recursive: true, force: true });
  }
  assert.ok(ops.length >= 15, ops.join('\n'));
  assert.deepEqual(ops.slice(0, 3), [
    'write unet/config.json',
    'rename unet/config.json',
    'write unet/diffusion_pytorch_model.safetensors',
  ]);
  assert.ok(
    ops.indexOf('rename diffuse.json') < ops.indexOf('rename checkpoint-20'),
    'the model (diffuse.json last) before the checkpoint',
  );
  assert.equal(ops[ops.length - 1], 'remove checkpoint-10');
  const outcomes = new Map<string, number>();
  for (let k = 1; k <= ops.length; k++) {
    const dir = tmp();
    try {
      commitTrainingSave(dir, save(10));
      installFaultInjection(`enospc@${k}`);
      assert.throws(
        () => commitTrainingSave(dir, save(20)),
        /ENOSPC: no space left on device \(injected at operation/,
        `op ${k}`,
      );
      installFaultInjection(null);
      const newest = listCheckpoints(dir).at(-1)!;
      assert.ok(newest === 10 || newest === 20, `op ${k} (${ops[k - 1]}): checkpoints ${listCheckpoints(dir)}`);
      // never older: if checkpoint-20 exists, the model is complete at step 20
      if (newest === 20) assert.deepEqual(verifyTopLevelModel(dir, 20), { ok: true }, `op ${k} (${ops[k - 1]})`);
      const warnings: string[] = [];
      const found = resumeLatestCheckpoint(dir, (m) => warnings.push(m))!;
      assert.equal(found.data.step, newest);
      assert.deepEqual(verifyTopLevelModel(dir, newest), { ok: true }, `op ${k} after repair`);
      const m = modelStep(dir);
      assert.ok(m.step === 10 || m.step === 20);
      assert.deepEqual(m.bias, [m.step + 0.5, -(m.step + 0.5)], `op ${k}: the model is the EMA of step ${m.step}`);
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.includes('.tmp')),
        [],
        `op ${k}: temporaries left`,
      );
      const key = `checkpoint ${newest}, model ${m.step}${warnings.length ? ', repaired' : ''}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    } finally {
      installFaultInjection(null);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `# ENOSPC at each of ${ops.length} operations of a save: ${[...outcomes].map(([k, n]) => `${n} x (${k})`).join('; ')}`,
  );
  assert.ok(outcomes.has('checkpoint 10, model 10, repaired'), 'an interrupted model write is repaired');
  assert.ok(outcomes.has('checkpoint 10, model 20'), 'a model ahead of the checkpoint is kept');
});

test('a model older than the newest checkpoint (the kill window of the earlier order) is restored from it', () => {
  const dir = tmp();
  try {
    commitTrainingSave(dir, save(10));
    writeCheckpoint(dir, save(20).checkpoint); // checkpoint-20 renamed into place, the model not written
    assert.deepEqual(verifyTopLevelModel(dir, 20), {
      ok: false,
      problem: 'the model is of step 10, older than checkpoint-20',
    });
    const warnings: string[] = [];
    resumeLatestCheckpoint(dir, (m) => warnings.push(m));
    assert.deepEqual(warnings, [
      `${dir}: restored the model from checkpoint-20 (the model is of step 10, older than checkpoint-20)`,
    ]);
    assert.deepEqual(modelStep(dir), { bias: [20.5, -20.5], step: 20 });
    // the model's weights deleted: restored too
    fs.rmSync(path.join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
    resumeLatestCheckpoint(dir);
    assert.deepEqual(modelStep(dir), { bias: [20.5, -20.5], step: 20 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a run folder in the earlier flat layout: the next save writes the pipeline layout and removes the flat model', () => {
  const dir = tmp();
  try {
    saveModelFolder(dir, cfg, w(1), sched, { step: '5' });
    assert.equal(loadModelFolder(dir).layout.kind, 'diffuse');
    commitTrainingSave(dir, save(10));
    assert.equal(loadModelFolder(dir).layout.kind, 'pipeline');
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'checkpoint-10',
      'diffuse.json',
      'model_index.json',
      'scheduler',
      'unet',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
