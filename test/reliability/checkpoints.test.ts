/**
 * Checkpoint folder safety: keep-last-K never deletes the last good checkpoint; leftovers of a
 * killed writer are ignored as checkpoints and cleaned (or restored) on the next start; a damaged
 * newest checkpoint falls back to the one before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import {
  cleanStaleTemporaries, latestCheckpoint, listCheckpoints, loadLatestCheckpoint, pruneCheckpoints, saveCheckpoint,
  type CheckpointData,
} from '../../src/training/checkpoint.ts';
import { tmpDir } from './_cli.ts';

const ck = (step: number): CheckpointData => ({
  step, modelConfig: { _class_name: 'MLPModel', in_channels: 2, hidden_dims: [2] }, schedulerConfig: { _class_name: 'DDPMScheduler' },
  params: { w: new NDArray([2], Float32Array.from([step, -step])) }, trainerState: { note: 'test' },
});

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

test('keep-last-K: keeps the newest K complete checkpoints, never fewer than one, never the one just written', () => {
  const out = tmpDir();
  try {
    for (const s of [10, 20, 30, 40]) saveCheckpoint(out, ck(s), 2);
    assert.deepEqual(listCheckpoints(out), [30, 40]);
    for (const k of [0, -3, Number.NaN]) {
      saveCheckpoint(out, ck(50), k);
      assert.deepEqual(listCheckpoints(out), [50], `keepLast ${k}`);
    }
    // An incomplete folder (no trainer_state.json: not written by saveCheckpoint's atomic rename)
    // is not a checkpoint: it neither counts towards K nor is deleted, and is never "latest".
    fs.mkdirSync(path.join(out, 'checkpoint-99'));
    fs.writeFileSync(path.join(out, 'checkpoint-99', 'diffusion_pytorch_model.safetensors'), 'partial');
    saveCheckpoint(out, ck(60), 1);
    assert.deepEqual(listCheckpoints(out), [60]);
    assert.equal(latestCheckpoint(out), path.join(out, 'checkpoint-60'));
    assert.ok(fs.existsSync(path.join(out, 'checkpoint-99')));
    // A newer complete checkpoint of another run in the folder: the one just written survives.
    saveCheckpoint(out, ck(1000), 5);
    saveCheckpoint(out, ck(70), 1);
    assert.deepEqual(listCheckpoints(out), [70, 1000]);
    pruneCheckpoints(out, 1);
    assert.deepEqual(listCheckpoints(out), [1000]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('leftovers of a killed writer: ignored as checkpoints, removed on start, an interrupted replacement restored', () => {
  const out = tmpDir();
  try {
    saveCheckpoint(out, ck(10), 5);
    saveCheckpoint(out, ck(20), 5);
    const dead = deadPid();
    // killed while filling the temporary folder of checkpoint-30
    fs.mkdirSync(path.join(out, `.checkpoint-30.${dead}.4.tmpdir`));
    fs.writeFileSync(path.join(out, `.checkpoint-30.${dead}.4.tmpdir`, 'trainer_state.json'), '{}');
    // killed between the two renames of replacing checkpoint-20 (old one moved aside, new one not in place)
    fs.renameSync(path.join(out, 'checkpoint-20'), path.join(out, `checkpoint-20.old-${dead}-7`));
    // killed while writing OUT's weights, and a stale .old of a folder that was replaced completely
    fs.writeFileSync(path.join(out, `.diffusion_pytorch_model.safetensors.${dead}.2.tmp`), 'partial');
    fs.cpSync(path.join(out, 'checkpoint-10'), path.join(out, `checkpoint-10.old-${dead}-1`), { recursive: true });
    // a live process's temporary file (pid 1 is always alive) is not touched
    fs.writeFileSync(path.join(out, '.config.json.1.0.tmp'), 'in progress');
    assert.deepEqual(listCheckpoints(out), [10], 'temporaries and .old folders are not checkpoints');
    const done = cleanStaleTemporaries(out).sort();
    assert.deepEqual(done, [
      `removed .checkpoint-30.${dead}.4.tmpdir`, `removed .diffusion_pytorch_model.safetensors.${dead}.2.tmp`,
      `removed checkpoint-10.old-${dead}-1`, `restored checkpoint-20 from checkpoint-20.old-${dead}-7`,
    ]);
    assert.deepEqual(listCheckpoints(out), [10, 20]);
    assert.deepEqual(fs.readdirSync(out).sort(), ['.config.json.1.0.tmp', 'checkpoint-10', 'checkpoint-20']);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a damaged newest checkpoint is reported and the one before it is loaded', () => {
  const out = tmpDir();
  try {
    saveCheckpoint(out, ck(10), 5);
    saveCheckpoint(out, ck(20), 5);
    const w = path.join(out, 'checkpoint-20', 'diffusion_pytorch_model.safetensors');
    fs.truncateSync(w, fs.statSync(w).size - 3);
    const warnings: string[] = [];
    const got = loadLatestCheckpoint(out, (m) => warnings.push(m));
    assert.equal(got!.dir, path.join(out, 'checkpoint-10'));
    assert.deepEqual(Array.from(got!.data.params.w.data), [10, -10]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /checkpoint-20 cannot be loaded \(.*diffusion_pytorch_model\.safetensors.*\); trying the checkpoint before it/);
    fs.truncateSync(path.join(out, 'checkpoint-10', 'diffusion_pytorch_model.safetensors'), 5);
    assert.throws(() => loadLatestCheckpoint(out), /no checkpoint in .* can be loaded; the newest failed with: /);
    assert.equal(loadLatestCheckpoint(path.join(out, 'no-such-run')), null);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
