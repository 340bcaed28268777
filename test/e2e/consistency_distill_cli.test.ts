/**
 * `diffuse distill --method consistency` end to end (child processes, as a user runs it): an EDM teacher on
 * 8gaussians is distilled into a consistency model whose folder records the formulation (a
 * CMStochasticIterativeScheduler scheduler config), and `diffuse sample STUDENT --steps K` (no --scheduler: the
 * folder's own multistep consistency sampler) gives samples on the ring of radius 2.83 in 1 and 2 steps; flag
 * misuse gives one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './_cli.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-cd-'));
const teacher = path.join(dir, 'teacher');
const student = path.join(dir, 'student');

function readCsv(file: string): number[][] {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  return lines.filter((l) => !/[a-z]/i.test(l.replace(/e[-+]?\d/gi, ''))).map((l) => l.split(',').map(Number));
}

/** Mean distance from the origin of sampled 2-D points (the ring data set's radius is about 2.83). */
function meanRadius(rows: number[][]): number {
  return rows.reduce((a, q) => a + Math.hypot(q[0], q[1]), 0) / rows.length;
}

/** `diffuse distill TEACHER --method consistency --steps-to 2` with further arguments. */
function distillConsistency(...args: string[]) {
  return runCli(['distill', teacher, '--method', 'consistency', '--steps-to', '2', ...args]);
}

test('distill --method consistency: a student that `sample --steps 1|2` runs on the ring', async () => {
  const t = await runCli([
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
    '--out',
    teacher,
    '--quiet',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const r = await distillConsistency('--iters', '1500', '--out', student, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  const cfgFile = [
    path.join(student, 'scheduler', 'scheduler_config.json'),
    path.join(student, 'scheduler_config.json'),
  ].find((f) => fs.existsSync(f))!;
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  assert.equal(cfg._class_name, 'CMStochasticIterativeScheduler');
  assert.equal(cfg.clip_denoised, false);
  for (const k of [1, 2]) {
    const out = path.join(dir, `student-${k}.csv`);
    const s = await runCli(['sample', student, '--steps', String(k), '--n', '800', '--out', out]);
    assert.equal(s.code, 0, s.stderr);
    // no --scheduler: the folder's own multistep consistency sampler
    assert.match(s.stderr, new RegExp(`${k} CMStochasticIterativeScheduler steps`));
    const rows = readCsv(out);
    assert.equal(rows.length, 800);
    const radius = meanRadius(rows);
    assert.ok(
      Math.abs(radius - 2.83) < 0.5,
      `${k}-step consistency student: mean radius ${radius} should be near 2.83`,
    );
  }
  // custom grid indices (diffusers' timesteps=; index 0 is sigma_max): a step at sigma_max, then one at grid index 13
  const out = path.join(dir, 'student-custom.csv');
  const c = await runCli(['sample', student, '--timesteps', '13,0', '--n', '800', '--out', out]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /timesteps 13,0 of CMStochasticIterativeScheduler/);
  const radius = meanRadius(readCsv(out));
  assert.ok(Math.abs(radius - 2.83) < 0.5, `timesteps 13,0: mean radius ${radius} should be near 2.83`);
  for (const [arg, why] of [
    ['4,12', /--timesteps: expected descending non-negative numbers such as 12,8,3,0, got '4,12'/],
    ['30,0', /timesteps\[0\] = 30 must be below num_train_timesteps = 18/],
  ] as const) {
    const bad = await runCli(['sample', student, '--timesteps', arg, '--n', '8', '--out', path.join(dir, 'x.csv')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, why);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
});

test("distill --method consistency --init: continues an earlier student (its weights, not the teacher's, are the start)", async () => {
  const cont = path.join(dir, 'continued');
  // one iteration at a vanishing learning rate: the result is the starting point
  const r = await distillConsistency('--init', student, '--iters', '1', '--lr', '1e-12', '--out', cont, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  const start = loadPipelineFolder(student).weights,
    end = loadPipelineFolder(cont).weights,
    teacherW = loadPipelineFolder(teacher).weights;
  let fromStudent = 0,
    fromTeacher = 0;
  for (const [k, v] of Object.entries(start)) {
    for (let i = 0; i < v.size; i++) {
      fromStudent = Math.max(fromStudent, Math.abs(end[k].data[i] - v.data[i]));
      fromTeacher = Math.max(fromTeacher, Math.abs(end[k].data[i] - teacherW[k].data[i]));
    }
  }
  assert.ok(fromStudent < 1e-5, `continued student moved ${fromStudent} from its --init weights`);
  assert.ok(fromTeacher > 1e-3, `the student differs from the teacher (${fromTeacher}), so the check above can fail`);
  for (const [args, why] of [
    [['--init', teacher], /--init .*teacher: not a consistency student \(its scheduler is EDM/],
    [['--init', student, '--grid-steps', '10'], /--init .*student: its grid has 18 points, not --grid-steps 10/],
  ] as const) {
    const bad = await distillConsistency('--out', path.join(dir, 'b0'), ...args);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, why);
  }
});

test('distill misuse: one-line errors naming the flag', async () => {
  const m = await runCli(['distill', teacher, '--method', 'flow', '--steps-to', '2', '--out', path.join(dir, 'b1')]);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /--method flow: allowed values: progressive, consistency/);
  const k = await runCli([
    'distill',
    teacher,
    '--method',
    'consistency',
    '--steps-to',
    '30',
    '--out',
    path.join(dir, 'b2'),
  ]);
  assert.notEqual(k.code, 0);
  assert.match(k.stderr, /--steps-to 30: must be an integer in 1..--grid-steps \(18\)/);
  const d = await runCli([
    'distill',
    teacher,
    '--method',
    'consistency',
    '--metric',
    'l1',
    '--steps-to',
    '2',
    '--out',
    path.join(dir, 'b3'),
  ]);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /--metric l1: allowed values: l2, pseudo-huber/);
  fs.rmSync(dir, { recursive: true, force: true });
});
