/**
 * A real full disk (issue 15's reproduction: a small tmpfs as --out): the save that does not fit fails with one
 * line naming the file, the model in --out is never older than the newest checkpoint, no temporary and no lock
 * is left; after the disk grows, --resume ends with the same bytes as a run on a roomy disk.
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN); without it the test is skipped and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { listCheckpoints, weightsMetadata } from '../../src/folders/index.ts';
import { errorLine, listFiles, runCli, tmpDir } from './_cli.ts';

const args = (out: string, extra: string[] = []) => [
  'train',
  '--data',
  'moons',
  '--steps',
  '300',
  '--checkpoint-every',
  '100',
  '--seed',
  '2',
  '--quiet',
  '--out',
  out,
  ...extra,
];

test('a full disk during a save: one line, the model not older than the newest checkpoint, nothing left; --resume after the disk grows', {
  timeout: 300_000,
}, async (t) => {
  const root = tmpDir('diffuse-diskfull-');
  const mnt = path.join(root, 'small');
  fs.mkdirSync(mnt);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1600k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mount.status !== 0) {
    fs.rmSync(root, { recursive: true, force: true });
    t.skip(
      `cannot mount a tmpfs here (${(mount.stderr || mount.error?.message || '').trim()}); the in-process ENOSPC test is test/folders/commit.test.ts`,
    );
    return;
  }
  try {
    const out = path.join(mnt, 'run'),
      ref = path.join(root, 'ref');
    const [full, roomy] = await Promise.all([runCli(args(out)), runCli(args(ref))]);
    assert.equal(roomy.code, 0, roomy.stderr);
    assert.equal(full.code, 1, full.stderr);
    assert.match(errorLine(full), /^diffuse: cannot write (directory )?.*: ENOSPC: no space left on device/);
    assert.equal(full.stderr.trim().split('\n').length, 1, full.stderr);
    const newest = listCheckpoints(out).at(-1) ?? 0;
    const modelStep = Number(weightsMetadata(path.join(out, 'unet', 'diffusion_pytorch_model.safetensors'), 'step'));
    assert.ok(modelStep >= newest && modelStep > 0, `model of step ${modelStep}, newest checkpoint ${newest}`);
    assert.deepEqual(
      listFiles(out).filter((f) => /\.tmp(dir)?$|\.diffuse\.lock|\.diffuse-writers/.test(f)),
      [],
      'no temporary, lock or writer record left',
    );
    const info = await runCli(['info', out]);
    assert.equal(info.code, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).trained_steps, modelStep);
    // the disk grows; the run goes on from its newest checkpoint to the same bytes as on a roomy disk
    assert.equal(spawnSync('mount', ['-o', 'remount,size=8m', mnt]).status, 0);
    const resumed = await runCli(args(out, ['--resume']));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(listFiles(out), listFiles(ref));
    for (const f of listFiles(ref))
      assert.ok(
        fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(ref, f))),
        `${f} differs from the roomy run`,
      );
    console.log(
      `# 1600 KiB tmpfs: ${errorLine(full)}; model of step ${modelStep}, newest checkpoint ${newest || 'none'}; resumed byte-identical (${listFiles(ref).length} files)`,
    );
  } finally {
    spawnSync('umount', [mnt]);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
