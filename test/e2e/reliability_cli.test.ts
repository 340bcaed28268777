/**
 * Issue 15 items 4-6 through the CLI, as a user meets them (child processes):
 * - item 4: jobs beyond the memory limit or depth cap are refused with one line before anything is
 *   allocated (wide/deep/10M-entry MLPs, layers_per_block 1e6, a 1M-column CSV, unet-s at 4096 px,
 *   num_train_timesteps 1e9), quickly; `sample --n` beyond one chunk streams a CSV;
 * - item 5: errors name the option/key/file, the value and what is allowed, without a stack;
 *   a read-only (unusable) TMPDIR does not kill `--help`;
 * - item 6: what used to exit 0 but wrong: --out "", --resume on a typo, --resume --steps below the
 *   run's step (diffuse.json untouched), changed flags on resume, --channels 2, --eta on euler, an
 *   inverse scheduler, NaN / overflowing weights (exit 1 naming the weight or the step), beta_end 5,
 *   an interrupted `sample` (no temporaries left), a valid 252-byte file name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { modelConfig, modelFromConfig } from '../../src/models/registry.ts';
import { estimateModelResources, sampleChunkSize } from '../../src/models/resources.ts';
import { saveModelFolder } from '../../src/folders/index.ts';
import { writeRunInfo } from '../../src/pipelines/sample_model.ts';
import { DDPMScheduler } from '../../src/samplers/index.ts';
import { REPO, errorLine, listFiles, runCli, startCli, tmpDir, type CliResult } from './_cli.ts';

const root = tmpDir('diffuse-rel15-');
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(root, ...p);

/** exit 1, one line on stderr matching `re`, no stack. */
function oneLine(r: CliResult, re: RegExp, what: string): void {
  assert.equal(r.code, 1, `${what}: exit code ${r.code}; stderr:\n${r.stderr}`);
  assert.match(errorLine(r), re, what);
  assert.ok(!/\n\s+at /.test(r.stderr), `${what}: a stack trace without --verbose:\n${r.stderr}`);
}

// A small untrained model folder (sampling needs no training) and damaged copies.
const model = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));
const cfg = model.toConfig() as unknown as Record<string, unknown>;
const sched = new DDPMScheduler({ num_train_timesteps: 50, clip_sample: false }).toConfig();
const weights = model.initParams(new Philox(0));
const folder = (name: string, w: Record<string, NDArray>, s: Record<string, unknown> = sched) => {
  saveModelFolder(at(name), cfg, w, s);
  writeRunInfo(at(name), {
    data: { spec: 'moons', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
    nullClass: null,
    step: 0,
  });
  return at(name);
};
const fill = (name: string, v: number) => ({
  ...weights,
  [name]: new NDArray(weights[name].shape, new Float32Array(weights[name].size).fill(v)),
});
const good = folder('model', weights);
const nanModel = folder('nan', fill('proj_out.weight', NaN));
const hugeModel = folder('huge', {
  ...fill('proj_out.weight', 3e38),
  'layers.0.weight': fill('layers.0.weight', 3e38)['layers.0.weight'],
});
const betaModel = folder('beta5', weights, { ...sched, beta_end: 5 });

test('item 4: refused with one line before allocating, each in seconds', { timeout: 300_000 }, async () => {
  const mlp = (name: string, hidden: unknown) => {
    fs.writeFileSync(
      at(name),
      `{"_class_name":"MLPModel","in_channels":2,"hidden_dims":${typeof hidden === 'string' ? hidden : JSON.stringify(hidden)}}`,
    );
    return at(name);
  };
  const row = new Array(1_000_000).fill('0.5').join(',');
  fs.writeFileSync(at('wide.csv'), `${row}\n${row}\n${row}\n${row}\n`);
  fs.mkdirSync(at('imgs'));
  fs.cpSync(path.join(REPO, 'test/fixtures/io/images'), at('imgs'), { recursive: true });
  const unet = { ...(modelConfig('unet-s') as unknown as Record<string, unknown>), layers_per_block: 1_000_000 };
  fs.writeFileSync(at('lpb.json'), JSON.stringify(unet));
  const T = (...a: string[]) => [
    'train',
    '--data',
    'moons',
    '--out',
    at('never'),
    '--steps',
    '2',
    '--max-memory',
    '8GiB',
    ...a,
  ];
  const cases: [string, string[], RegExp][] = [
    [
      'hidden_dims [30000, 30000]',
      T('--model', mlp('wide.json', [30000, 30000])),
      /^diffuse: train --model .*wide\.json \(902,100,002 parameters, 3 layers\) at --batch-size 128 needs about [\d.]+ GiB of memory, more than the limit of 8\.0 GiB \(--max-memory \/ DIFFUSE_MEMORY_LIMIT = 8GiB\); weights 3\.4 GiB per copy.*nothing was allocated/,
    ],
    [
      'hidden_dims of 10M entries',
      T('--model', mlp('long.json', `[${new Array(10_000_000).fill('4').join(',')}]`)),
      /^diffuse: --model .*long\.json: hidden_dims has 10000000 entries: a model of 10000001 layers is refused \(at most 500 layers/,
    ],
    [
      'a 5000-layer MLP',
      T('--model', mlp('deep.json', new Array(5000).fill(128))),
      /^diffuse: --model .*deep\.json: hidden_dims has 5000 entries: a model of 5001 layers is refused/,
    ],
    [
      'layers_per_block 1e6',
      ['train', '--data', at('imgs'), '--model', at('lpb.json'), '--out', at('never')],
      /^diffuse: --model .*lpb\.json: layers_per_block = 1000000 with 3 down and 3 up blocks: a model of \d+ layers is refused/,
    ],
    [
      'a 1M-column CSV',
      ['train', '--data', at('wide.csv'), '--out', at('never'), '--max-memory', '4GiB'],
      /^diffuse: train --model mlp-2d \(257,\d{3},\d{3} parameters, 4 layers\) at --batch-size 128 needs about [\d.]+ GiB of memory, more than the limit of 4\.0 GiB/,
    ],
    [
      'unet-s at --image-size 4096',
      ['train', '--data', at('imgs'), '--model', 'unet-s', '--image-size', '4096', '--out', at('never')],
      /^diffuse: train --model unet-s \(1,112,801 parameters, 23 layers\) at --batch-size 64 needs about [\d.e+]+ PiB of memory/,
    ],
    [
      '--train-timesteps 1e9',
      T('--train-timesteps', '1000000000'),
      /^diffuse: option '--train-timesteps <n>' argument '1000000000' is invalid\. --train-timesteps: expected an integer in \[2, 1000000\]/,
    ],
    [
      '--batch-size 1e10',
      T('--batch-size', '10000000000'),
      /^diffuse: train --model mlp-2d .* at --batch-size 10000000000 needs about [\d.]+ TiB of memory/,
    ],
    [
      'sample --n 1e10 to a PNG',
      ['sample', good, '--n', '10000000000', '--out', at('x.png')],
      /^diffuse: --n 10000000000 --out .*x\.png \(10000000000 samples of \[2\] kept for one picture\) needs about .* write a \.csv to stream any --n/,
    ],
  ];
  for (const [what, args, re] of cases) {
    const t0 = performance.now();
    oneLine(await runCli(args), re, what);
    assert.ok(performance.now() - t0 < 60_000, `${what}: took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  assert.ok(!fs.existsSync(at('never')), 'nothing was written');
  // sampling a model folder of [30000, 30000]: refused from its config.json, before its (here bogus) weights are read
  fs.mkdirSync(at('wide-folder'));
  fs.writeFileSync(
    at('wide-folder', 'config.json'),
    JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [30000, 30000] }),
  );
  fs.writeFileSync(at('wide-folder', 'diffusion_pytorch_model.safetensors'), 'not read');
  oneLine(
    await runCli(['sample', at('wide-folder'), '--out', at('w.csv'), '--max-memory', '4GiB']),
    /^diffuse: sample .*wide-folder \(902,100,002 parameters\) in chunks of 64 needs about [\d.]+ GiB of memory, more than the limit of 4\.0 GiB/,
    'sample a wide model',
  );
  // num_train_timesteps 1e9 in a model folder's scheduler config
  const t9 = folder('t9', weights, { ...sched, num_train_timesteps: 1e9 });
  oneLine(
    await runCli(['sample', t9, '--out', at('t9.csv')]),
    /^diffuse: .*t9\/.*scheduler_config\.json: num_train_timesteps = 1000000000 is invalid: .*1000000/,
    'T = 1e9',
  );
});

test('item 4: sample --n beyond one chunk streams a CSV (bounded memory, chunks reported, no temporaries)', {
  timeout: 300_000,
}, async () => {
  const chunk = sampleChunkSize(estimateModelResources(cfg));
  const n = 2 * chunk + 1000; // three chunks
  const r = await runCli([
    'sample',
    good,
    '--n',
    String(n),
    '--steps',
    '2',
    '--scheduler',
    'ddim',
    '--out',
    at('many.csv'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`sampling ${n.toLocaleString('en')} samples in 3 chunks of up to ${chunk}`));
  assert.match(r.stderr, new RegExp(`chunk 3/3: ${n.toLocaleString('en')} rows written`));
  const text = fs.readFileSync(at('many.csv'), 'utf8');
  assert.equal(text.trim().split('\n').length, n);
  assert.ok(!text.includes('nan'));
  assert.deepEqual(
    fs.readdirSync(root).filter((f) => f.startsWith('.many.csv')),
    [],
  );
});

test('item 5: one line naming option, value and what is allowed; no stack', { timeout: 300_000 }, async () => {
  fs.writeFileSync(at('afile'), 'x');
  const cases: [string, string[], RegExp][] = [
    [
      '--scheduler __proto__',
      ['sample', good, '--scheduler', '__proto__', '--out', at('a.csv')],
      /^diffuse: --scheduler __proto__: unknown; use one of ddpm, ddim/,
    ],
    [
      '--seed 1e30',
      ['train', '--data', 'moons', '--out', at('s'), '--seed', '1e30'],
      /^diffuse: option '--seed <n>' argument '1e30' is invalid\. --seed: expected an integer >= 0 and <= 2\^53 - 1, got '1e30'/,
    ],
    [
      'train --out afile',
      ['train', '--data', 'moons', '--out', at('afile')],
      /^diffuse: --out .*afile: exists and is a file, not a folder$/,
    ],
    [
      'train --out afile/sub',
      ['train', '--data', 'moons', '--out', at('afile', 'sub')],
      /^diffuse: --out .*afile\/sub: .*afile is a file, not a folder$/,
    ],
    [
      'sample --out afile/x.csv',
      ['sample', good, '--out', at('afile', 'x.csv')],
      /^diffuse: --out .*afile\/x\.csv: .*afile is a file, not a folder$/,
    ],
    [
      '--n 0',
      ['sample', good, '--n', '0', '--out', at('a.csv')],
      /^diffuse: option '--n <n>' argument '0' is invalid\. --n: expected an integer >= 1/,
    ],
    [
      'export --onnx afile/x.onnx',
      ['export', good, '--onnx', at('afile', 'x.onnx')],
      /^diffuse: --onnx .*afile\/x\.onnx: .*afile is a file, not a folder$/,
    ],
    [
      'eval --n 1e10',
      ['eval', good, '--n', '10000000000', '--seeds', '1'],
      /^diffuse: eval --n 10000000000 \(one batch of samples per run\) needs about [\d.]+ TiB of memory/,
    ],
    [
      'eval --eta with euler',
      ['eval', good, '--n', '100', '--seeds', '1', '--steps', '2', '--scheduler', 'euler', '--eta', '0.3'],
      /^diffuse: --eta 0\.3: EulerDiscreteScheduler has no eta/,
    ],
    [
      '--max-memory lots',
      ['train', '--data', 'moons', '--out', at('mm'), '--max-memory', 'lots'],
      /^diffuse: option '--max-memory <size>' argument 'lots' is invalid\. --max-memory: expected a size such as 4GiB/,
    ],
  ];
  for (const [what, args, re] of cases) oneLine(await runCli(args), re, what);
  // tsx cannot cache under an unusable TMPDIR: --help still works (through bin/, as installed)
  const help = spawnSync(process.execPath, [path.join(REPO, 'bin/diffuse.js'), '--help'], {
    env: { ...process.env, TMPDIR: at('afile') },
    encoding: 'utf8',
  });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: diffuse/);
  assert.equal(help.stderr, '');
});

test('item 6: no more exit 0 with a wrong result', { timeout: 300_000 }, async () => {
  oneLine(
    await runCli(['sample', good, '--out', '']),
    /^diffuse: --out "": an output file is required \(an empty path is not allowed; use a name ending in \.png, \.csv, \.gif\)$/,
    '--out ""',
  );
  oneLine(
    await runCli(['train', '--data', 'moons', '--out', '']),
    /^diffuse: --out "": an output folder is required/,
    'train --out ""',
  );
  oneLine(
    await runCli(['train', '--data', 'moons', '--out', at('typo'), '--resume']),
    /^diffuse: --resume: --out .*typo does not exist, so there is nothing to resume/,
    'resume a typo',
  );
  assert.ok(!fs.existsSync(at('typo')));
  oneLine(
    await runCli(['train', '--data', at('imgs-none'), '--model', 'unet-s', '--channels', '2', '--out', at('c2')]),
    /^diffuse: --channels 2: not supported \(allowed: 1 for greyscale or 3 for RGB/,
    '--channels 2',
  );
  oneLine(
    await runCli(['train', '--data', 'moons', '--channels', '4', '--out', at('c4')]),
    /^diffuse: option '--channels <n>' argument '4' is invalid\. --channels: expected an integer in \[1, 3\]/,
    '--channels 4',
  );
  oneLine(
    await runCli(['sample', good, '--scheduler', 'euler', '--eta', '0.5', '--out', at('e.csv')]),
    /^diffuse: --eta 0\.5: EulerDiscreteScheduler has no eta/,
    '--eta with euler',
  );
  const ddimEta = await runCli([
    'sample',
    good,
    '--scheduler',
    'ddim',
    '--eta',
    '0.5',
    '--n',
    '8',
    '--steps',
    '3',
    '--out',
    at('e.csv'),
  ]);
  assert.equal(ddimEta.code, 0, ddimEta.stderr);
  oneLine(
    await runCli(['sample', good, '--scheduler', 'DDIMInverseScheduler', '--out', at('i.csv')]),
    /^diffuse: --scheduler DDIMInverseScheduler: an inverse scheduler \(it maps samples to noise, for inversion\) cannot sample/,
    'inverse',
  );
  oneLine(
    await runCli(['sample', nanModel, '--out', at('nan.csv')]),
    /^diffuse: the model weights: weight proj_out\.weight\[0\] = NaN; a model with non-finite weights only produces NaN samples/,
    'NaN weights',
  );
  oneLine(
    await runCli(['sample', hugeModel, '--scheduler', 'ddim', '--steps', '5', '--out', at('huge.csv')]),
    /^diffuse: sampling produced (-?Infinity|NaN) at step 1 of 5 \(timestep \d+, DDIMScheduler\)/,
    'overflow while sampling',
  );
  oneLine(
    await runCli(['sample', betaModel, '--out', at('b.csv')]),
    /^diffuse: .*beta5\/.*scheduler_config\.json: beta_start = 0\.0001, beta_end = 5 \(beta_schedule "linear"\) give beta_\d+ = 1\.0\d+; every beta must lie in \(0, 1\)/,
    'beta_end 5',
  );
  for (const f of ['nan.csv', 'huge.csv', 'b.csv', 'i.csv']) assert.ok(!fs.existsSync(at(f)), `${f} was not written`);
  // demo --out: never removes a user's folder that happens to be called "model"
  fs.mkdirSync(at('user', 'model'), { recursive: true });
  fs.writeFileSync(at('user', 'model', 'notes.txt'), 'precious');
  oneLine(
    await runCli(['demo', '--out', at('user'), '--steps', '2']),
    /^diffuse: --out .*user: .*user\/model exists and does not hold a diffuse run; the demo would replace it/,
    'demo into a user folder',
  );
  assert.equal(fs.readFileSync(at('user', 'model', 'notes.txt'), 'utf8'), 'precious');
  oneLine(await runCli(['demo', '--out', '']), /^diffuse: --out "": an output folder is required/, 'demo --out ""');
  // a valid 252-byte file name (its temporary name must stay within 255 bytes)
  const long = at(`${'n'.repeat(248)}.csv`);
  const r = await runCli(['sample', good, '--n', '4', '--steps', '2', '--out', long]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(long, 'utf8').trim().split('\n').length, 4);
});

test('item 6: resume compares the stored run; --steps below the run keeps diffuse.json; --override changes lr on purpose', {
  timeout: 300_000,
}, async () => {
  const out = at('run');
  const base = [
    'train',
    '--data',
    'moons',
    '--model',
    at('tiny.json'),
    '--batch-size',
    '8',
    '--checkpoint-every',
    '5',
    '--out',
    out,
    '--quiet',
  ];
  fs.writeFileSync(at('tiny.json'), JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [8] }));
  const first = await runCli([...base, '--steps', '10', '--lr', '5e-4']);
  assert.equal(first.code, 0, first.stderr);
  const info = fs.readFileSync(path.join(out, 'diffuse.json'), 'utf8');
  oneLine(
    await runCli([...base, '--resume', '--steps', '5']),
    /^diffuse: --steps 5: .*checkpoint-10 is already at step 10; resuming can only continue to --steps >= 10 \(nothing was changed\)$/,
    'steps below',
  );
  assert.equal(fs.readFileSync(path.join(out, 'diffuse.json'), 'utf8'), info, 'diffuse.json untouched');
  oneLine(
    await runCli([...base, '--resume', '--steps', '20', '--lr', '1e-3', '--override', 'steps']),
    /^diffuse: --lr: .*checkpoint-10 was trained with lr = 0\.0005, this run asks for 0\.001; pass --override lr to change it on purpose/,
    'lr',
  );
  oneLine(
    await runCli([...base, '--resume', '--batch-size', '16']),
    /^diffuse: --batch-size: .*batchSize = 8, this run asks for 16; it changes what is trained/,
    'batch size',
  );
  oneLine(
    await runCli([...base, '--resume', '--prediction-type', 'v_prediction']),
    /^diffuse: --prediction-type: .*objective\.predictionType = epsilon, this run asks for v_prediction/,
    'prediction type',
  );
  oneLine(
    await runCli([...base, '--resume', '--beta-schedule', 'scaled_linear']),
    /^diffuse: --beta-schedule \/ --train-timesteps: .*noiseSchedule\.beta_schedule = linear, this run asks for scaled_linear/,
    'beta schedule',
  );
  oneLine(
    await runCli([...base, '--resume', '--no-ema']),
    /^diffuse: --ema \/ --no-ema: .*emaDecay = 0\.999, this run asks for none/,
    'EMA',
  );
  oneLine(
    await runCli([...base.map((a) => (a === 'moons' ? 'circles' : a)), '--resume']),
    /^diffuse: --data circles: .*checkpoint-10 was trained on 'moons'/,
    'data',
  );
  fs.writeFileSync(at('tiny16.json'), JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [16] }));
  oneLine(
    await runCli([...base.map((a) => (a === at('tiny.json') ? at('tiny16.json') : a)), '--resume']),
    /^diffuse: --model .*tiny16\.json: the run in .* was trained with another model/,
    'model',
  );
  // flags not typed take the run's values (lr 5e-4 stays), --override raises the steps on purpose
  const more = await runCli([...base, '--resume', '--steps', '15', '--override', 'steps']);
  assert.equal(more.code, 0, more.stderr);
  const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint-15', 'trainer_state.json'), 'utf8'));
  assert.equal(state.trainConfig.lr, 5e-4);
  assert.equal(state.trainConfig.steps, 15);
});

test('item 6: an interrupted sample leaves no temporary file', { timeout: 300_000 }, async () => {
  const dir = at('interrupted');
  fs.mkdirSync(dir);
  const run = startCli([
    'sample',
    good,
    '--n',
    '5000000',
    '--steps',
    '10',
    '--scheduler',
    'ddim',
    '--out',
    path.join(dir, 'big.csv'),
  ]);
  await run.waitFor(/chunk 1\/\d+: [\d,]+ rows written/);
  assert.equal(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length,
    1,
    'the stream is being written to a temporary',
  );
  // one writer per output file: a second sample to the same file fails at once
  oneLine(
    await runCli(['sample', good, '--n', '5', '--out', path.join(dir, 'big.csv')]),
    /^diffuse: .*big\.csv is in use by another diffuse process \(pid \d+ .*`sample`/,
    'a second writer',
  );
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.ok(r.signal === 'SIGINT' || r.code !== 0, `stopped (code ${r.code}, signal ${r.signal})`);
  assert.deepEqual(listFiles(dir), [], 'neither the target, a temporary nor the lock is left');
});
