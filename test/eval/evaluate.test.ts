import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Philox } from '../../src/engine/index.ts';
import { MLPModel } from '../../src/models/mlp.ts';
import { saveModelFolder } from '../../src/folders/index.ts';
import { writeRunInfo } from '../../src/pipelines/sample_model.ts';
import { evaluateModelFolder } from '../../src/eval/runs/evaluate.ts';

// A tiny untrained mlp "trained" on 8gaussians: enough to exercise the plumbing (not the quality).
let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-eval-'));
  const model = new MLPModel({ in_channels: 2, hidden_dims: [32, 32], time_embedding_dim: 16 });
  saveModelFolder(dir, model.toConfig() as unknown as Record<string, unknown>, model.initParams(new Philox(0)), {
    _class_name: 'DDPMScheduler',
    num_train_timesteps: 1000,
    beta_schedule: 'linear',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'epsilon',
    variance_type: 'fixed_small',
    clip_sample: false,
  });
  writeRunInfo(dir, {
    data: { spec: '8gaussians', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
    nullClass: null,
    step: 0,
  });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('sweep: one cell per (scheduler, steps), NFE = counted model calls (Heun: 2 per step but the last)', async () => {
  const r = await evaluateModelFolder(dir, {
    metric: 'mmd',
    sweepSchedulers: ['ddim', 'heun', 'dpmsolver++'],
    steps: [2, 4],
    n: 100,
    seeds: 2,
    seed: 5,
  });
  assert.deepEqual(
    r.sweep!.map((c) => [c.scheduler, c.steps, c.nfe]),
    [
      ['ddim', 2, 2],
      ['ddim', 4, 4],
      ['heun', 2, 3],
      ['heun', 4, 7],
      ['dpmsolver++', 2, 2],
      ['dpmsolver++', 4, 4],
    ],
  );
  for (const c of r.sweep!) {
    assert.equal(c.values.length, 2);
    assert.ok(Math.abs(c.mean - (c.values[0] + c.values[1]) / 2) < 1e-12);
    assert.ok(
      c.se !== null && Math.abs(c.se - Math.abs(c.values[0] - c.values[1]) / 2) < 1e-12,
      'se over 2 seeds = |a - b| / 2',
    );
  }
  assert.equal(r.value, r.sweep![5].mean);
  assert.deepEqual(r.settings.seeds, [5, 6]);
  assert.equal(r.baseline!.values.length, 2);
  assert.ok(Math.abs(r.baseline!.mean) < 0.05, `data vs data MMD^2 ${r.baseline!.mean}`);
  assert.ok(r.sweep![0].mean > r.baseline!.mean, 'an untrained model is worse than data');
  // same seed -> same numbers
  const again = await evaluateModelFolder(dir, {
    metric: 'mmd',
    scheduler: 'ddim',
    steps: [2],
    n: 100,
    seeds: 1,
    seed: 5,
  });
  assert.equal(again.value, r.sweep![0].values[0]);
  assert.equal(again.standard_error, null);
  // explicit cells: scheduler:steps
  const cells = await evaluateModelFolder(dir, {
    metric: 'mmd',
    sweepSchedulers: ['heun:3', 'ddim:2'],
    n: 100,
    seeds: 1,
    seed: 5,
  });
  assert.deepEqual(
    cells.sweep!.map((c) => [c.scheduler, c.steps, c.nfe]),
    [
      ['heun', 3, 5],
      ['ddim', 2, 2],
    ],
  );
  assert.equal(cells.sweep![1].values[0], r.sweep![0].values[0]);
});

test('--timesteps: every cell runs the given descending timesteps (steps = their count), recorded in the settings', async () => {
  const base = { metric: 'mmd', scheduler: 'euler', n: 100, seeds: 1, seed: 5 };
  const custom = await evaluateModelFolder(dir, { ...base, timesteps: [999, 500, 100] });
  const spaced = await evaluateModelFolder(dir, { ...base, steps: [3] });
  assert.deepEqual(
    custom.sweep!.map((c) => [c.scheduler, c.steps, c.nfe]),
    [['euler', 3, 3]],
  );
  assert.deepEqual(custom.settings.timesteps, [999, 500, 100]);
  assert.notEqual(custom.value, spaced.value, 'the custom schedule, not the default 3-step spacing, was sampled');
  await assert.rejects(
    evaluateModelFolder(dir, { ...base, steps: [3], timesteps: [999, 0] }),
    /--timesteps: replaces --steps/,
  );
  await assert.rejects(
    evaluateModelFolder(dir, { ...base, scheduler: 'unipc', timesteps: [999, 0] }),
    /UniPCMultistepScheduler.setTimesteps: custom timesteps are not supported/,
  );
});

test('single-sampler swd and logp; likelihoods nll (ODE) and vlb report value, standard error and settings', async () => {
  const swd = await evaluateModelFolder(dir, { metric: 'swd', steps: [3], n: 100, seeds: 2, projections: 32 });
  assert.ok(swd.value > 0 && swd.standard_error !== null);
  assert.equal(swd.settings.projections, 32);
  const logp = await evaluateModelFolder(dir, { metric: 'logp', steps: [3], n: 100, seeds: 1 });
  assert.ok(logp.value < logp.baseline!.mean, 'untrained samples are less likely under the data density than data');
  const nll = await evaluateModelFolder(dir, { metric: 'nll', n: 12, rtol: 1e-3, atol: 1e-3 });
  assert.equal(nll.unit, 'nats per point');
  assert.ok(Number.isFinite(nll.value) && nll.standard_error! > 0);
  assert.ok((nll.details!.nfe as number) > 6);
  assert.equal(nll.details!.divergence, 'exact trace');
  const vlb = await evaluateModelFolder(dir, { metric: 'vlb', n: 12, vlbTimesteps: 5 });
  assert.equal(vlb.unit, 'nats per point');
  assert.equal(vlb.details!.terms_evaluated, 12 * 6);
  const json = JSON.parse(JSON.stringify(vlb));
  for (const k of ['metric', 'value', 'standard_error', 'settings', 'description']) assert.ok(k in json, k);
});

test('a sampler that fails (here DPM-Solver++ at 1000 steps: a repeated timestep, h = 0) fails its cell, not the sweep', async () => {
  const r = await evaluateModelFolder(dir, {
    metric: 'mmd',
    sweepSchedulers: ['dpmsolver++', 'ddim'],
    steps: [1000],
    n: 20,
    seeds: 1,
  });
  const [bad, good] = r.sweep!;
  assert.ok(bad.errors && /not finite/.test(bad.errors[0]), JSON.stringify(bad.errors));
  assert.ok(Number.isNaN(bad.mean) && bad.se === null);
  assert.equal(good.errors, undefined);
  assert.ok(Number.isFinite(good.mean));
});

test('bad eval requests name the problem and the allowed values', async () => {
  await assert.rejects(
    evaluateModelFolder(dir, { metric: 'fid' }),
    /--metric fid: unknown; allowed: mmd, swd, logp, fid-mnist, accuracy, confidence, nll, vlb, bpd/,
  );
  await assert.rejects(evaluateModelFolder(dir, { metric: 'fid-mnist', n: 10 }), /needs 28x28 grayscale digit samples/);
  await assert.rejects(
    evaluateModelFolder(dir, { metric: 'nll', sweepSchedulers: ['ddim'] }),
    /--sweep: only sample metrics/,
  );
  await assert.rejects(evaluateModelFolder(dir, { metric: 'mmd', steps: [2, 3] }), /several step counts need --sweep/);
  await assert.rejects(
    evaluateModelFolder(dir, { metric: 'mmd', scheduler: 'bogus', steps: [2], n: 10, seeds: 1 }),
    /--scheduler bogus: unknown/,
  );
});

test('diffuse eval CLI: prints the table, writes the JSON report and the PNG plot; usage errors exit 1', async () => {
  const run = promisify(execFile);
  const out = path.join(dir, 'sweep.json');
  const main = path.resolve('src/cli/main.ts');
  const { stdout } = await run(process.execPath, [
    '--import',
    'tsx',
    main,
    'eval',
    dir,
    '--metric',
    'mmd',
    '--sweep',
    'scheduler=ddim,heun',
    '--steps',
    '2,3',
    '--n',
    '50',
    '--seeds',
    '2',
    '--out',
    out,
    '--quiet',
  ]);
  assert.match(stdout, /scheduler\s+steps\s+NFE\s+mmd \(mean\)/);
  assert.match(stdout, /heun\s+3\s+5\s/);
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(report.metric, 'mmd');
  assert.equal(report.sweep.length, 4);
  assert.ok('standard_error' in report && 'settings' in report);
  const png = fs.readFileSync(out.replace(/\.json$/, '.png'));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', main, 'eval', dir, '--steps', '2,x']),
    (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /--steps: 'x' in '2,x' is not a positive integer/);
      return true;
    },
  );
});
