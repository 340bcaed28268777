/**
 * Training guard: a non-finite loss stops training with a message naming the step and the last good
 * checkpoint; with onNonFinite 'skip' (--skip-nonfinite) the step is skipped and training goes on.
 * In process with a poisoned data source (NaN batch at a known step), and through the CLI with
 * --lr 1e30 after a resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { openDataSource, type DataSource } from '../../src/data/data_source.ts';
import { defaultTrainConfig, train, NonFiniteLossError } from '../../src/training/trainer.ts';
import { listCheckpoints, loadCheckpoint, loadModelFolder } from '../../src/folders/index.ts';
import { setWarningHandler } from '../../src/io/warn.ts';
import { errorLine, runCli, tmpDir } from './_cli.ts';

/** moons, except that batch number `poisonAt` (1-based) is all NaN. */
function poisoned(poisonAt: number): DataSource {
  const src = openDataSource('moons', { batchSize: 8, seed: 1 });
  let calls = 0;
  return {
    ...src,
    next: async () => {
      const b = await src.next();
      calls += 1;
      return calls === poisonAt ? { x: new NDArray(b.x.shape, new Float32Array(b.x.size).fill(NaN)) } : b;
    },
  };
}

const config = () => ({
  ...defaultTrainConfig(),
  steps: 12,
  batchSize: 8,
  warmupSteps: 2,
  checkpointEvery: 5,
  keepLast: 3,
  noiseSchedule: { num_train_timesteps: 50, beta_schedule: 'linear', clip_sample: false },
});
const mlp = () => modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));

test("a NaN loss stops training naming the step and the last good checkpoint; OUT keeps that checkpoint's model", async () => {
  const out = tmpDir();
  try {
    const err = await train({ model: mlp(), data: poisoned(7), config: config(), outDir: out }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof NonFiniteLossError, String(err));
    assert.equal(err.step, 7);
    assert.equal(err.lastCheckpoint, path.join(out, 'checkpoint-5'));
    assert.match(
      err.message,
      new RegExp(
        `^training stopped: the loss became NaN at step 7; last good checkpoint: ${out}/checkpoint-5 \\(resume from it with a lower --lr, or pass --skip-nonfinite`,
      ),
    );
    assert.deepEqual(listCheckpoints(out), [5]);
    const ck = loadCheckpoint(path.join(out, 'checkpoint-5'));
    for (const a of Object.values(ck.params)) assert.ok(a.data.every(Number.isFinite));
    // OUT's sampling model is the EMA of step 5, as saved with checkpoint-5.
    const root = loadModelFolder(out);
    for (const [k, v] of Object.entries(ck.ema!)) assert.deepEqual(root.weights[k].data, v.data, k);
    // A NaN before the first checkpoint: "none yet".
    const out2 = tmpDir();
    try {
      await assert.rejects(
        train({ model: mlp(), data: poisoned(2), config: config(), outDir: out2 }),
        /the loss became NaN at step 2; last good checkpoint: none yet/,
      );
    } finally {
      fs.rmSync(out2, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('onNonFinite skip: the poisoned step is skipped (weights unchanged, reported), training completes with finite weights', async () => {
  const out = tmpDir();
  const warnings: string[] = [];
  const prev = setWarningHandler((m) => warnings.push(m));
  try {
    const r = await train({
      model: mlp(),
      data: poisoned(5),
      config: { ...config(), onNonFinite: 'skip', checkpointEvery: 1, keepLast: 20 },
      outDir: out,
    });
    assert.equal(r.losses.length, 12);
    assert.ok(Number.isNaN(r.losses[4]));
    assert.ok(r.losses.every((l, i) => i === 4 || Number.isFinite(l)));
    assert.deepEqual(warnings, ['step 5: the loss is NaN; step skipped (weights and optimizer state unchanged)']);
    // Step 5 was skipped but its checkpoint was written: weights, EMA and AdamW state equal those of
    // step 4 (t counts the 4 applied updates); step 6 moves on.
    const ck4 = loadCheckpoint(path.join(out, 'checkpoint-4')),
      ck5 = loadCheckpoint(path.join(out, 'checkpoint-5'));
    const ck6 = loadCheckpoint(path.join(out, 'checkpoint-6'));
    assert.equal(ck5.optimizer!.t, 4);
    assert.equal(ck6.optimizer!.t, 5);
    for (const [k, v] of Object.entries(ck4.params)) {
      assert.deepEqual(ck5.params[k].data, v.data, k);
      assert.deepEqual(ck5.ema![k].data, ck4.ema![k].data, k);
      assert.deepEqual(ck5.optimizer!.m[k].data, ck4.optimizer!.m[k].data, k);
      assert.deepEqual(ck5.optimizer!.v[k].data, ck4.optimizer!.v[k].data, k);
      assert.notDeepEqual(ck6.params[k].data, v.data, k);
    }
    assert.equal((ck5.trainerState.losses as (number | null)[])[4], null);
    assert.deepEqual(listCheckpoints(out), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const a of Object.values(r.weights)) assert.ok(a.data.every(Number.isFinite));
  } finally {
    setWarningHandler(prev);
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('CLI: --lr 1e30 after a resume stops with one line naming the step and checkpoint-10, exit 1; --skip-nonfinite finishes', {
  timeout: 60_000,
}, async () => {
  const out = tmpDir();
  try {
    const args = [
      'train',
      '--data',
      'moons',
      '--model',
      'mlp-2d',
      '--batch-size',
      '8',
      '--checkpoint-every',
      '5',
      '--out',
      out,
    ];
    const first = await runCli([...args, '--steps', '10', '--quiet']);
    assert.equal(first.code, 0, first.stderr);
    const bad = await runCli([
      ...args,
      '--steps',
      '20',
      '--lr',
      '1e30',
      '--resume',
      '--override',
      'lr,steps',
      '--quiet',
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      errorLine(bad),
      new RegExp(
        `^diffuse: training stopped: the (loss became (NaN|Infinity|-Infinity)|weights became non-finite \\(loss [^)]*\\)) at step 1[12]; last good checkpoint: ${out}/checkpoint-10 \\(resume from it with a lower --lr, or pass --skip-nonfinite to skip such steps\\)$`,
      ),
    );
    assert.ok(!bad.stderr.includes('    at '), 'no stack trace without --verbose');
    assert.deepEqual(listCheckpoints(out), [5, 10]);
    const skipped = await runCli([
      ...args,
      '--steps',
      '20',
      '--lr',
      '1e30',
      '--resume',
      '--override',
      'lr,steps',
      '--skip-nonfinite',
    ]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stderr, /diffuse: warning: step 1[12]: .*step skipped/);
    assert.match(skipped.stderr, /done: 20 steps .* \d+ steps skipped \(non-finite\)/);
    assert.deepEqual(listCheckpoints(out), [15, 20]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
