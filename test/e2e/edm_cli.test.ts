/**
 * `diffuse train --objective edm` end to end (child processes, as a user runs it): the model folder records the
 * EDM formulation (an EDMDPMSolverMultistepScheduler scheduler config with the given sigma_data), `diffuse sample`
 * runs it with its own scheduler (no --scheduler), the EDM schedulers, with VP schedulers (the formulation adapter converts) and with score-sde-ve, and the samples
 * look like the data (mean and spread of the 8gaussians ring); flag misuse gives one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './_cli.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-edm-'));
const run = path.join(dir, 'run');

function readCsv(file: string): number[][] {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  // a header line only when the data has column names
  return lines.filter((l) => !/[a-z]/i.test(l.replace(/e[-+]?\d/gi, ''))).map((l) => l.split(',').map(Number));
}

test('train --objective edm writes an EDM model folder that every sampler family runs', async () => {
  const r = await runCli([
    'train',
    '--data',
    '8gaussians',
    '--model',
    'mlp-2d',
    '--steps',
    '2000',
    '--batch-size',
    '256',
    '--lr',
    '2e-3',
    '--objective',
    'edm',
    '--sigma-data',
    '0.5',
    '--out',
    run,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const cfgFile = [path.join(run, 'scheduler', 'scheduler_config.json'), path.join(run, 'scheduler_config.json')].find(
    (f) => fs.existsSync(f),
  )!;
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  assert.equal(cfg._class_name, 'EDMDPMSolverMultistepScheduler');
  assert.equal(cfg.sigma_data, 0.5);
  assert.equal(cfg.noise_label_scale, undefined, 'diffusers keys only (EDM c_noise = ln(sigma) / 4)');
  for (const [sched, steps] of [
    [undefined, 15],
    ['edm-euler', 40],
    ['edm-dpmsolver++', 15],
    ['dpmsolver++', 15],
    ['score-sde-ve', 200],
  ] as const) {
    const out = path.join(dir, `${sched ?? 'own'}.csv`);
    const choice = sched ? ['--scheduler', sched] : [];
    const s = await runCli(['sample', run, ...choice, '--steps', String(steps), '--n', '800', '--out', out]);
    assert.equal(s.code, 0, s.stderr);
    const rows = readCsv(out);
    assert.equal(rows.length, 800);
    // 8gaussians: modes on a ring of radius 2 sqrt 2 (std 0.35 each): mean ~0, mean radius ~2.8
    const mean = [0, 1].map((k) => rows.reduce((a, r) => a + r[k], 0) / rows.length);
    const radius = rows.reduce((a, r) => a + Math.hypot(r[0], r[1]), 0) / rows.length;
    assert.ok(Math.hypot(mean[0], mean[1]) < 0.4, `${sched}: mean (${mean}) should be near 0`);
    assert.ok(Math.abs(radius - 2.83) < 0.35, `${sched}: mean radius ${radius} should be near 2.83`);
  }
});

test('diffuse distill makes a 2-step student that samples the ring', async () => {
  const student = path.join(dir, 'student');
  const r = await runCli([
    'distill',
    run,
    '--steps-to',
    '2',
    '--start-steps',
    '8',
    '--iters',
    '300',
    '--out',
    student,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = path.join(dir, 'student.csv');
  const s = await runCli(['sample', student, '--scheduler', 'edm-euler', '--steps', '2', '--n', '800', '--out', out]);
  assert.equal(s.code, 0, s.stderr);
  const rows = readCsv(out);
  const radius = rows.reduce((a, q) => a + Math.hypot(q[0], q[1]), 0) / rows.length;
  assert.ok(Math.abs(radius - 2.83) < 0.5, `2-step student: mean radius ${radius} should be near 2.83`);
  const bad = await runCli(['distill', run, '--steps-to', '3', '--out', path.join(dir, 'bad3')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--steps-to 3: must be a power of 2/);
});

test('--objective misuse: one-line errors naming the flag', async () => {
  const bad = await runCli([
    'train',
    '--data',
    'moons',
    '--objective',
    'flow',
    '--steps',
    '1',
    '--out',
    path.join(dir, 'bad1'),
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--objective flow: not supported; allowed values: eps, edm/);
  const mix = await runCli([
    'train',
    '--data',
    'moons',
    '--objective',
    'edm',
    '--learned-variance',
    '--steps',
    '1',
    '--out',
    path.join(dir, 'bad2'),
  ]);
  assert.notEqual(mix.code, 0);
  assert.match(mix.stderr, /--learned-variance: not available with --objective edm/);
});
