/**
 * `diffuse sample DIR --scheduler lcm | cm-stochastic` end to end (child processes, as a user runs them) on the
 * tiny diffusers-layout DDPM folder of test/fixtures/folders: the samples are written, the run names the
 * scheduler, the same seed gives the same file, and a step count the LCM grid cannot give is a one-line error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, runCli } from './_cli.ts';

const model = path.join(REPO, 'test/fixtures/folders/ddpm-tiny-fp16');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-consistency-'));
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

for (const [sched, steps] of [
  ['lcm', 4],
  ['cm-stochastic', 2],
] as const) {
  test(`diffuse sample --scheduler ${sched} writes samples, reproducibly`, async () => {
    const files = [0, 1].map((k) => path.join(dir, `${sched}-${k}.png`));
    for (const out of files) {
      const r = await runCli([
        'sample',
        model,
        '--scheduler',
        sched,
        '--steps',
        String(steps),
        '--n',
        '4',
        '--seed',
        '3',
        '--out',
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout + r.stderr, new RegExp(`${steps} ${sched} steps`));
      assert.deepEqual(fs.readFileSync(out).subarray(0, 4), PNG);
    }
    assert.ok(fs.readFileSync(files[0]).equals(fs.readFileSync(files[1])), 'same seed, same samples');
  });
}

test('diffuse sample --scheduler lcm with more steps than the distillation grid is a one-line error', async () => {
  const r = await runCli([
    'sample',
    model,
    '--scheduler',
    'lcm',
    '--steps',
    '60',
    '--n',
    '2',
    '--out',
    path.join(dir, 'x.png'),
  ]);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /original_inference_steps x strength = 50 x 1 gives 50 grid timesteps, fewer than numInferenceSteps = 60/,
  );
});
