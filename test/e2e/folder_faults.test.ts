/**
 * The commit protocol of `diffuse train`, with real process deaths: the training process SIGKILLs itself
 * (DIFFUSE_TEST_FAULT=kill@n, src/folders/fault_injection.ts) just before each write, rename, folder
 * creation and removal of its final save (and the preview written after it). After every kill the model
 * in --out is never older than the newest checkpoint, and `train --resume` ends with the same bytes, file
 * for file, as an uninterrupted run. Also issue 15's reproduction (a kill at the 10th rename of a run with
 * three saves) and two concurrent trainers on one folder (the second fails with one line; the first's
 * model is intact).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listCheckpoints, weightsMetadata } from '../../src/folders/index.ts';
import { errorLine, listFiles, runCli, startCli, tmpDir } from './_cli.ts';

const STEPS = 6000;
const MODEL = { _class_name: 'MLPModel', in_channels: 2, out_channels: 2, hidden_dims: [8], time_embedding_dim: 4 };

function args(out: string, model: string, steps: number, every: number, extra: string[] = []): string[] {
  return [
    'train',
    '--data',
    'moons',
    '--model',
    model,
    '--steps',
    String(steps),
    '--batch-size',
    '8',
    '--lr',
    '3e-3',
    '--checkpoint-every',
    String(every),
    '--keep-last',
    '1',
    '--seed',
    '5',
    '--quiet',
    '--out',
    out,
    ...extra,
  ];
}

function assertSameFolder(actual: string, expected: string, what: string): void {
  assert.deepEqual(listFiles(actual), listFiles(expected), `${what}: other files than the uninterrupted run`);
  for (const f of listFiles(expected)) {
    assert.ok(
      fs.readFileSync(path.join(actual, f)).equals(fs.readFileSync(path.join(expected, f))),
      `${what}: ${f} differs from the uninterrupted run`,
    );
  }
}

/** The model's step (weights metadata) is not older than the newest complete checkpoint. */
function assertModelNotOlder(out: string, what: string): void {
  const newest = listCheckpoints(out).at(-1) ?? 0;
  const w = path.join(out, 'unet', 'diffusion_pytorch_model.safetensors');
  const step = fs.existsSync(w) ? Number(weightsMetadata(w, 'step')) : 0;
  assert.ok(step >= newest, `${what}: the model is of step ${step}, older than checkpoint-${newest}`);
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
    }),
  );
}

test('SIGKILL before each operation of the final save: the model is never older than the newest checkpoint; --resume ends byte-identical', {
  timeout: 600_000,
}, async () => {
  const root = tmpDir('diffuse-faults-');
  try {
    const model = path.join(root, 'mlp.json');
    fs.writeFileSync(model, JSON.stringify(MODEL));
    const ref = path.join(root, 'ref'),
      logged = path.join(root, 'logged'),
      log = path.join(root, 'ops.log');
    const [r1, r2] = await Promise.all([
      runCli(args(ref, model, 4, 2)),
      runCli(args(logged, model, 4, 2), { DIFFUSE_TEST_FAULT: `log:${log}` }),
    ]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    assertSameFolder(logged, ref, 'the logging run');
    const ops = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [n, op, p] = l.split(' ');
        return { n: Number(n), op, p: path.relative(logged, p) };
      });
    const first = ops.findIndex((o) => o.op === 'rename' && o.p === 'checkpoint-2') + 1;
    const finalSave = ops.slice(first);
    assert.ok(
      finalSave.length >= 15 &&
        finalSave.some((o) => o.p === 'checkpoint-4') &&
        finalSave.some((o) => o.p === 'diffuse.json'),
      finalSave.map((o) => `${o.op} ${o.p}`).join('\n'),
    );
    const seen: string[] = [];
    await pool(finalSave, 2, async ({ n, op, p }) => {
      const out = path.join(root, `kill-${n}`);
      const killed = await runCli(args(out, model, 4, 2), { DIFFUSE_TEST_FAULT: `kill@${n}` });
      assert.equal(killed.signal, 'SIGKILL', `kill@${n} (${op} ${p}): ${killed.stderr}`);
      assertModelNotOlder(out, `killed before ${op} ${p}`);
      const resumed = await runCli(args(out, model, 4, 2, ['--resume']));
      assert.equal(resumed.code, 0, `resume after a kill before ${op} ${p}: ${resumed.stderr}`);
      assertSameFolder(out, ref, `killed before ${op} ${p}, resumed`);
      seen.push(`${op} ${p}`);
      fs.rmSync(out, { recursive: true, force: true });
    });
    assert.equal(seen.length, finalSave.length);
    console.log(
      `# SIGKILL before each of the ${finalSave.length} operations of the final save (${[...new Set(finalSave.map((o) => o.op))].join(', ')}): model never older than the newest checkpoint; all ${seen.length} resumed byte-identical to the uninterrupted run (${listFiles(ref).length} files each)`,
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("issue 15's reproduction: a SIGKILL at the 10th rename of a 3-save run, then --resume, restores the final model", {
  timeout: 300_000,
}, async () => {
  const root = tmpDir('diffuse-faults-');
  try {
    const model = path.join(root, 'mlp.json');
    fs.writeFileSync(model, JSON.stringify(MODEL));
    const ref = path.join(root, 'ref'),
      out = path.join(root, 'out'),
      log = path.join(root, 'ops.log');
    await runCli(args(ref, model, 30, 10), { DIFFUSE_TEST_FAULT: `log:${log}` });
    const renames = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[1] === 'rename');
    const tenth = Number(renames[9][0]);
    const killed = await runCli(args(out, model, 30, 10), { DIFFUSE_TEST_FAULT: `kill@${tenth}` });
    assert.equal(killed.signal, 'SIGKILL');
    assertModelNotOlder(out, 'killed at the 10th rename');
    const resumed = await runCli(args(out, model, 30, 10, ['--resume']));
    assert.equal(resumed.code, 0, resumed.stderr);
    assertSameFolder(out, ref, 'killed at the 10th rename, resumed');
    // --resume on the finished run: nothing to do, and nothing changes
    const again = await runCli(args(out, model, 30, 10, ['--resume']));
    assert.equal(again.code, 0, again.stderr);
    assertSameFolder(out, ref, 'a second --resume');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('two trainers on one --out: the second fails with one line naming the holder; the first finishes with its model intact', {
  timeout: 300_000,
}, async () => {
  const root = tmpDir('diffuse-faults-');
  try {
    const model = path.join(root, 'mlp.json');
    fs.writeFileSync(model, JSON.stringify(MODEL));
    const out = path.join(root, 'out'),
      ref = path.join(root, 'ref');
    // One save at the end: while the first trains, the folder holds no model yet, only its lock.
    const first = startCli(args(out, model, STEPS, STEPS).filter((a) => a !== '--quiet'));
    await first.waitFor(new RegExp(`\\] \\d+/${STEPS} `)); // training (the lock is taken before the first step)
    const second = await runCli(args(out, model, 50, 10, ['--seed', '9']));
    assert.ok(
      !first.stderr.includes(`${STEPS}/${STEPS}`),
      'the first run ended before the second started; raise STEPS',
    );
    const end = await first.done;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(second.code, 1, second.stderr);
    const line = errorLine(second);
    assert.match(
      line,
      new RegExp(
        `^diffuse: ${out.replace(/[.]/g, '\\.')} is in use by another diffuse process \\(pid ${first.child.pid} on .*, \`train\` since .*\\); wait for it to finish or choose another folder \\(lock: .*\\.diffuse\\.lock\\)$`,
      ),
    );
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    // the first run's model is what an undisturbed run with its settings writes
    const solo = await runCli(args(ref, model, STEPS, STEPS));
    assert.equal(solo.code, 0, solo.stderr);
    assertSameFolder(out, ref, 'the first trainer');
    console.log(`# second trainer: ${line}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
