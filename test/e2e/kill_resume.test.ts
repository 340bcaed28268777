/**
 * Crash safety of `diffuse train`: a run SIGKILLed at a random step, and one SIGKILLed in the middle
 * of a checkpoint write (DIFFUSE_TEST_PAUSE_IN_CHECKPOINT hook), are resumed with --resume; their
 * final files (sampling model, raw weights, EMA, AdamW moments, trainer state with the loss curve,
 * the sample preview) must equal those of an uninterrupted run with the same seed, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listCheckpoints } from '../../src/folders/index.ts';
import { listFiles, runCli, startCli, tmpDir, waitForFile } from './_cli.ts';

const STEPS = 120;
const EVERY = 10;

function trainArgs(out: string, model: string, extra: string[] = []): string[] {
  return [
    'train',
    '--data',
    'moons',
    '--model',
    model,
    '--steps',
    String(STEPS),
    '--batch-size',
    '8',
    '--lr',
    '3e-3',
    '--checkpoint-every',
    String(EVERY),
    '--keep-last',
    '2',
    '--seed',
    '3',
    '--out',
    out,
    ...extra,
  ];
}

function assertSameFolder(actual: string, expected: string): void {
  const a = listFiles(actual),
    e = listFiles(expected);
  assert.deepEqual(a, e, `${actual} holds other files than ${expected}`);
  for (const f of e) {
    assert.ok(
      fs.readFileSync(path.join(actual, f)).equals(fs.readFileSync(path.join(expected, f))),
      `${f} differs from the uninterrupted run`,
    );
  }
}

test('train killed (SIGKILL) at a random step and during a checkpoint write resumes to bit-identical weights, EMA, optimizer state and loss curve', {
  timeout: 120_000,
}, async () => {
  const root = tmpDir();
  try {
    const model = path.join(root, 'mlp.json');
    fs.writeFileSync(
      model,
      JSON.stringify({
        _class_name: 'MLPModel',
        in_channels: 2,
        out_channels: 2,
        hidden_dims: [16, 16],
        time_embedding_dim: 8,
      }),
    );
    const ref = path.join(root, 'ref'),
      a = path.join(root, 'killed-random'),
      b = path.join(root, 'killed-in-checkpoint');

    // Kill point A: after the progress line of a random step (a line every STEPS/20 steps), plus 0-20 ms.
    const target = (STEPS / 20) * (2 + Math.floor(Math.random() * 14));
    const delayMs = Math.floor(Math.random() * 20);
    // Kill point B: inside the write of checkpoint-60 (weights and EMA written, optimizer and trainer_state not).
    const marker = path.join(root, 'paused');
    const runRef = runCli(trainArgs(ref, model));
    const runA = startCli(trainArgs(a, model));
    const runB = startCli(trainArgs(b, model), { DIFFUSE_TEST_PAUSE_IN_CHECKPOINT: `60:${marker}` });

    await runA.waitFor(new RegExp(`\\] ${target}/${STEPS} `));
    await new Promise((r) => setTimeout(r, delayMs));
    runA.child.kill('SIGKILL');
    const endA = await runA.done;
    assert.equal(endA.signal, 'SIGKILL', `run A finished before it could be killed:\n${endA.stderr}`);
    const stepsA = listCheckpoints(a);

    await waitForFile(marker);
    const tmpB = fs.readFileSync(marker, 'utf8');
    assert.match(path.basename(tmpB), /^\.checkpoint-60\.[0-9a-f]{10}\.\d+\.tmpdir$/);
    assert.deepEqual(fs.readdirSync(tmpB).sort(), [
      'config.json',
      'diffusion_pytorch_model.safetensors',
      'ema.safetensors',
      'scheduler_config.json',
    ]);
    runB.child.kill('SIGKILL');
    const endB = await runB.done;
    assert.equal(endB.signal, 'SIGKILL');
    // The half-written checkpoint is not a checkpoint; the last complete one is 50 (keep-last 2: 40, 50).
    assert.deepEqual(listCheckpoints(b), [40, 50]);
    assert.ok(fs.existsSync(tmpB), 'the temporary folder of the killed write is still there before --resume');
    // OUT's sampling model is that of step 60: written before checkpoint-60 (src/folders/commit.ts), so it is
    // never older than the newest checkpoint; --resume continues from checkpoint-50 and rewrites the same bytes.
    assert.match(
      fs
        .readFileSync(path.join(b, 'unet', 'diffusion_pytorch_model.safetensors'))
        .subarray(0, 200)
        .toString('latin1'),
      /"step":"60"/,
    );
    assert.equal(JSON.parse(fs.readFileSync(path.join(b, 'diffuse.json'), 'utf8')).step, 60);

    const [resA, resB, endRef] = await Promise.all([
      runCli(trainArgs(a, model, ['--resume'])),
      runCli(trainArgs(b, model, ['--resume'])),
      runRef,
    ]);
    assert.equal(endRef.code, 0, endRef.stderr);
    assert.equal(resA.code, 0, resA.stderr);
    assert.equal(resB.code, 0, resB.stderr);
    assert.match(resB.stderr, /removed \.checkpoint-60\.[0-9a-f]{10}\.\d+\.tmpdir \(left by an interrupted run\)/);
    assert.ok(!fs.existsSync(tmpB));

    assertSameFolder(a, ref);
    assertSameFolder(b, ref);
    const state = JSON.parse(fs.readFileSync(path.join(ref, `checkpoint-${STEPS}`, 'trainer_state.json'), 'utf8'));
    assert.equal(state.losses.length, STEPS);
    console.log(
      `# kill/resume: run A killed ${delayMs} ms after the progress line of step ${target} (complete checkpoints then: ${stepsA.join(', ') || 'none'}); run B killed inside the write of checkpoint-60; both resumed to byte-identical files (${listFiles(ref).length} files compared each)`,
    );
  } finally {
    if (!process.env.KEEP_REL) fs.rmSync(root, { recursive: true, force: true });
    else console.log('# kept', root);
  }
});
