/**
 * Checkpoint folder safety: keep-last-K never deletes the last good checkpoint; leftovers of a
 * killed writer are ignored as checkpoints and cleaned (or restored) on the next start — only those
 * whose writer tag is recorded in the folder, never a user's file named like them; a damaged newest
 * checkpoint falls back to the one before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import {
  cleanStaleTemporaries,
  latestCheckpoint,
  listCheckpoints,
  loadLatestCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  recordWriter,
  recordedWriters,
  WRITERS_NAME,
  type CheckpointData,
} from '../../src/folders/index.ts';
import { WRITER_TAG } from '../../src/io/atomic.ts';
import { tmpDir } from '../e2e/_cli.ts';

const ck = (step: number): CheckpointData => ({
  step,
  modelConfig: { _class_name: 'MLPModel', in_channels: 2, hidden_dims: [2] },
  schedulerConfig: { _class_name: 'DDPMScheduler' },
  params: { w: new NDArray([2], Float32Array.from([step, -step])) },
  trainerState: { note: 'test' },
});

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

test('leftovers of a killed writer: ignored as checkpoints, removed on start (recorded tags only), an interrupted replacement restored', () => {
  const out = tmpDir();
  try {
    saveCheckpoint(out, ck(10), 5);
    saveCheckpoint(out, ck(20), 5);
    // A killed run of ours: its tag is recorded in the folder (as the lock does before any write).
    const dead = 'a1b2c3d4e5';
    fs.writeFileSync(path.join(out, WRITERS_NAME), `${dead}\n`);
    recordWriter(out); // this process: its own tag is never cleaned
    assert.deepEqual(recordedWriters(out), [dead, WRITER_TAG]);
    // killed while filling the temporary folder of checkpoint-30
    fs.mkdirSync(path.join(out, `.checkpoint-30.${dead}.4.tmpdir`));
    fs.writeFileSync(path.join(out, `.checkpoint-30.${dead}.4.tmpdir`, 'trainer_state.json'), '{}');
    // killed between the two renames of replacing checkpoint-20 (old one moved aside, new one not in place)
    fs.renameSync(path.join(out, 'checkpoint-20'), path.join(out, `checkpoint-20.old-${dead}-7`));
    // killed while writing the model's weights, and a stale .old of a folder that was replaced completely
    fs.mkdirSync(path.join(out, 'unet'));
    fs.writeFileSync(path.join(out, 'unet', `.diffusion_pytorch_model.safetensors.${dead}.2.tmp`), 'partial');
    fs.cpSync(path.join(out, 'checkpoint-10'), path.join(out, `checkpoint-10.old-${dead}-1`), { recursive: true });
    // this process's own temporary (a write in progress) is not touched
    fs.writeFileSync(path.join(out, `.config.json.${WRITER_TAG}.0.tmp`), 'in progress');
    assert.deepEqual(listCheckpoints(out), [10], 'temporaries and .old folders are not checkpoints');
    const done = cleanStaleTemporaries(out).sort();
    assert.deepEqual(done, [
      `removed .checkpoint-30.${dead}.4.tmpdir`,
      `removed checkpoint-10.old-${dead}-1`,
      `removed unet/.diffusion_pytorch_model.safetensors.${dead}.2.tmp`,
      `restored checkpoint-20 from checkpoint-20.old-${dead}-7`,
    ]);
    assert.deepEqual(listCheckpoints(out), [10, 20]);
    assert.deepEqual(
      fs.readdirSync(out).sort(),
      [WRITERS_NAME, `.config.json.${WRITER_TAG}.0.tmp`, 'checkpoint-10', 'checkpoint-20', 'unet'].sort(),
    );
    assert.deepEqual(recordedWriters(out), [WRITER_TAG], 'the cleaned tag is forgotten');
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
    assert.match(
      warnings[0],
      /checkpoint-20 cannot be loaded \(.*diffusion_pytorch_model\.safetensors.*\); trying the checkpoint before it/,
    );
    fs.truncateSync(path.join(out, 'checkpoint-10', 'diffusion_pytorch_model.safetensors'), 5);
    assert.throws(() => loadLatestCheckpoint(out), /no checkpoint in .* can be loaded; the newest failed with: /);
    assert.equal(loadLatestCheckpoint(path.join(out, 'no-such-run')), null);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
