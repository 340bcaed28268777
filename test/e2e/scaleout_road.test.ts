/**
 * The scale-out road of docs/interop.md, end to end on small data, as a user runs it:
 *   diffuse export-data mnist  ->  tools/scaleout/train_unconditional.py (diffusers' recipe, a few CPU steps)
 *   ->  diffuse info / sample / eval / export on the pipeline folder diffusers saved,
 * plus diffuse's forward pass of the trained model against diffusers' (model.eval(): the config's dropout 0.1 is
 * off in inference on both sides). Needs Debian's python3 with torch and the diffusers source at the pinned commit
 * (tools/.ref, see tools/fixtures/diffusers_unet2d.py); skipped when they are missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PY = '/usr/bin/python3';
const DIFFUSERS = path.join(REPO, 'tools', '.ref', 'diffusers_58eb52c', 'src');
const PYPATH = [path.join(REPO, 'tools', 'fixtures', 'diffusers_shim'), DIFFUSERS].join(path.delimiter);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-scaleout-'));
const t = (f: string) => path.join(tmp, f);
const diffuse = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
const python = (...args: string[]) =>
  spawnSync(PY, args, { cwd: REPO, encoding: 'utf8', env: { ...process.env, PYTHONPATH: PYPATH } });

const ready = fs.existsSync(DIFFUSERS) && python('-c', 'import torch').status === 0;

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('export-data -> diffusers training script -> diffuse info / sample / eval / export', {
  skip: ready ? false : 'needs /usr/bin/python3 with torch and tools/.ref/diffusers_58eb52c',
}, () => {
  let r = diffuse('export-data', 'mnist', t('png'), '--limit', '64');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote 64 PNG images to .*png, 10 class folders/);

  fs.writeFileSync(
    t('unet.json'),
    JSON.stringify({
      _class_name: 'UNet2DModel',
      sample_size: 28,
      in_channels: 1,
      out_channels: 1,
      layers_per_block: 1,
      block_out_channels: [8, 16, 16],
      down_block_types: ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'],
      up_block_types: ['AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
      norm_num_groups: 4,
      attention_head_dim: 8,
      dropout: 0.1,
    }),
  );
  r = python(
    'tools/scaleout/train_unconditional.py',
    '--train_data_dir',
    t('png'),
    '--channels',
    '1',
    '--resolution',
    '28',
    '--model_config_name_or_path',
    t('unet.json'),
    '--output_dir',
    t('run'),
    '--train_batch_size',
    '8',
    '--max_train_steps',
    '16',
    '--lr_warmup_steps',
    '2',
    '--learning_rate',
    '2e-3',
  );
  assert.equal(r.status, 0, r.stderr);
  const log = JSON.parse(fs.readFileSync(t('run/train_log.json'), 'utf8')) as { steps: number; losses: number[] };
  assert.equal(log.steps, 16);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(
    mean(log.losses.slice(-4)) < mean(log.losses.slice(0, 4)),
    `the loss fell: ${log.losses.map((v) => v.toFixed(3)).join(' ')}`,
  );

  r = diffuse('info', t('run'));
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(info.layout, 'pipeline');
  assert.equal(info.pipeline_class, 'DDPMPipeline');
  assert.equal((info.config as Record<string, unknown>).dropout, 0.1);

  r = diffuse('sample', t('run'), '--scheduler', 'ddim', '--steps', '4', '--n', '4', '--out', t('samples.png'));
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.statSync(t('samples.png')).size > 100);
  r = diffuse('export', t('run'), '--onnx', t('unet.onnx'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /inputs sample \[batch, 1, 28, 28\], timestep \[batch\]/);
  r = diffuse(
    'eval',
    t('run'),
    '--metric',
    'fid-mnist',
    '--scheduler',
    'ddim',
    '--steps',
    '4',
    '--n',
    '16',
    '--seeds',
    '1',
    '--out',
    t('eval.json'),
    '--quiet',
  );
  assert.equal(r.status, 0, r.stderr);
  const ev = JSON.parse(fs.readFileSync(t('eval.json'), 'utf8')) as { value: number; metric: string };
  assert.equal(ev.metric, 'fid-mnist');
  assert.ok(Number.isFinite(ev.value) && ev.value > 0);

  // diffuse's forward of the trained model equals diffusers' (inference: no dropout on either side)
  r = python(
    '-c',
    `
import json, sys, torch, torch_compat
from diffusers import UNet2DModel
m = UNet2DModel.from_pretrained(sys.argv[1], subfolder="unet").eval()
g = torch.Generator().manual_seed(0)
x = torch.randn((2, 1, 28, 28), generator=g)
with torch.no_grad():
    y = m(x, torch.tensor([10.0, 700.0])).sample
json.dump({"x": x.flatten().tolist(), "y": y.flatten().tolist()}, open(sys.argv[2], "w"))
`,
    t('run'),
    t('ref.json'),
  );
  assert.equal(r.status, 0, r.stderr);
  const node = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `
import { readFileSync } from 'node:fs';
import { NDArray, compile, trace } from './src/engine/index.ts';
import { withParams } from './src/nn/module.ts';
import { UNet2DModel } from './src/models/unet2d.ts';
import { loadModelFolder } from './src/folders/model_folder.ts';
const f = loadModelFolder(${JSON.stringify(t('run'))});
const m = UNet2DModel.fromConfig(f.modelConfig);
const ref = JSON.parse(readFileSync(${JSON.stringify(t('ref.json'))}, 'utf8'));
const g = trace((x, tt) => withParams(m, f.weights, () => m.forward(x, tt)), [{ name: 'x', shape: [2, 1, 28, 28] }, { name: 't', shape: [2] }]);
const [y] = await (await compile(g)).run({ x: new NDArray([2, 1, 28, 28], Float32Array.from(ref.x)), t: NDArray.from([10, 700]) });
let e = 0; for (let i = 0; i < y.size; i++) e = Math.max(e, Math.abs(y.data[i] - ref.y[i]));
console.log(JSON.stringify({ maxAbsDiff: e }));
`,
    ],
    { cwd: REPO, encoding: 'utf8' },
  );
  assert.equal(node.status, 0, node.stderr);
  const { maxAbsDiff } = JSON.parse(node.stdout.trim().split('\n').pop()!) as { maxAbsDiff: number };
  assert.ok(maxAbsDiff < 1e-5, `diffuse vs diffusers forward: ${maxAbsDiff}`);
});
