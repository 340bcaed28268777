/**
 * config.json / scheduler_config.json schema checks (zod): wrong type or range -> an error naming the
 * file and the key path; unknown keys -> a warning and the key is dropped. Real configs written by
 * diffusers (test/fixtures: the UNet2DModel oracle config, every scheduler's full_config) pass
 * without a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkModelConfig, checkSchedulerConfig, readModelConfigFile } from '../../src/folders/index.ts';
import { loadModelFolder, saveModelFolder } from '../../src/folders/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { Philox } from '../../src/engine/index.ts';
import { DDPMScheduler } from '../../src/samplers/index.ts';
import { setWarningHandler } from '../../src/io/warn.ts';
import { RUN_INFO_NAME, readRunInfo } from '../../src/pipelines/sample_model.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url);

function captureWarnings<T>(fn: () => T): { value: T; warnings: string[] } {
  const warnings: string[] = [];
  const prev = setWarningHandler((m) => warnings.push(m));
  try {
    return { value: fn(), warnings };
  } finally {
    setWarningHandler(prev);
  }
}

test('model config: wrong types and ranges are errors naming the key path and value', () => {
  const base = { _class_name: 'MLPModel', in_channels: 2, hidden_dims: [16, 16] };
  assert.throws(
    () => checkModelConfig({ ...base, hidden_dims: [16, 'x'] }, 'run/config.json'),
    /^Error: run\/config.json: hidden_dims\[1\] = "x" is invalid: expected number, received string/,
  );
  assert.throws(
    () => checkModelConfig({ ...base, in_channels: 0 }, 'run/config.json'),
    /run\/config.json: in_channels = 0 is invalid: Too small: expected number to be >=1/,
  );
  assert.throws(
    () => checkModelConfig({ ...base, in_channels: 2.5 }, 'c.json'),
    /c.json: in_channels = 2.5 is invalid: expected int/,
  );
  assert.throws(
    () => checkModelConfig({ ...base, act_fn: 'tanh' }, 'c.json'),
    /c.json: act_fn = "tanh" is invalid: .*"silu"\|"swish"\|"gelu"\|"relu"/,
  );
  assert.throws(
    () => checkModelConfig({ ...base, flip_sin_to_cos: 'yes' }, 'c.json'),
    /flip_sin_to_cos = "yes" is invalid: expected boolean/,
  );
  assert.throws(
    () => checkModelConfig({ in_channels: 2 }, 'c.json'),
    /c.json: _class_name = missing is invalid: expected one of "MLPModel", "UNet2DModel"/,
  );
  assert.throws(() => checkModelConfig([1, 2], 'c.json'), /c.json: expected a JSON object/);
  const unet = JSON.parse(fs.readFileSync(new URL('models/unet_tiny.json', FIXTURES), 'utf8')).config;
  assert.throws(
    () => checkModelConfig({ _class_name: 'UNet2DModel', ...unet, sample_size: [8, -1] }, 'u.json'),
    /u.json: sample_size\[1\] = -1 is invalid/,
  );
  assert.throws(
    () => checkModelConfig({ _class_name: 'UNet2DModel', ...unet, norm_eps: 0 }, 'u.json'),
    /u.json: norm_eps = 0 is invalid: expected a finite number > 0/,
  );
  assert.throws(
    () =>
      checkModelConfig(
        { _class_name: 'UNet2DModel', ...unet, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'] },
        'u.json',
      ),
    /u.json: down_block_types\[1\] = "CrossAttnDownBlock2D" is invalid/,
  );
});

test("model config: unknown keys warn and are dropped; diffusers' own UNet2DModel config passes silently", () => {
  const { value, warnings } = captureWarnings(() =>
    checkModelConfig(
      { _class_name: 'MLPModel', hidden_dims: [8], hiden_dims: [4], dropout: 0, _diffusers_version: '0.30' },
      'run/config.json',
    ),
  );
  assert.deepEqual(warnings, ['run/config.json: unknown keys "hiden_dims", "dropout" ignored (not a MLPModel key)']);
  assert.deepEqual(Object.keys(value).sort(), ['_class_name', '_diffusers_version', 'hidden_dims']);
  assert.deepEqual((modelFromConfig(value).config as { hidden_dims: number[] }).hidden_dims, [8]);
  // The config diffusers' UNet2DModel wrote for the model fixtures (tools/fixtures, oracle = diffusers).
  const unet = JSON.parse(fs.readFileSync(new URL('models/unet_tiny.json', FIXTURES), 'utf8')).config;
  const r = captureWarnings(() =>
    checkModelConfig({ _class_name: 'UNet2DModel', _diffusers_version: '0.37.0', ...unet }, 'unet/config.json'),
  );
  assert.deepEqual(r.warnings, []);
  assert.deepEqual((modelFromConfig(r.value).config as { block_out_channels: number[] }).block_out_channels, [8, 16]);
  // JSON "__proto__" is an own key: reported and dropped, never a prototype.
  const evil = captureWarnings(() =>
    checkModelConfig(JSON.parse('{"_class_name":"MLPModel","__proto__":{"in_channels":7}}'), 'e.json'),
  );
  assert.match(evil.warnings[0], /unknown key "__proto__" ignored/);
  assert.equal(Object.getPrototypeOf(evil.value), Object.prototype);
  assert.equal(modelFromConfig(evil.value).config.in_channels, 2);
});

test('scheduler config: schema from the class spec; every diffusers full_config passes without warnings', () => {
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', beta_end: '0.02' }, 's.json'),
    /^Error: s.json: beta_end = "0.02" is invalid: expected number, received string/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', num_train_timesteps: 0 }, 's.json'),
    /s.json: num_train_timesteps = 0 is invalid: Too small: expected number to be >=1/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', trained_betas: [0.1, 'a'] }, 's.json'),
    /s.json: trained_betas\[1\] = "a" is invalid/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', beta_schedule: 'cosine' }, 's.json'),
    /s.json: beta_schedule = "cosine" is invalid/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'NopeScheduler' }, 's.json'),
    /s.json: _class_name = "NopeScheduler" is invalid: expected one of "DDPMScheduler"/,
  );
  const w = captureWarnings(() =>
    checkSchedulerConfig({ _class_name: 'DDPMScheduler', solver_order: 2, beta_ends: 0.02 }, 's.json'),
  );
  assert.deepEqual(w.warnings, ['s.json: unknown key "beta_ends" ignored (no scheduler takes it)']);
  assert.ok('solver_order' in w.value, 'a key of another scheduler class is kept (diffusers from_config)');
  assert.ok(!('beta_ends' in w.value));
  let n = 0;
  for (const f of fs.readdirSync(new URL('diffusers/', FIXTURES))) {
    const fx = JSON.parse(fs.readFileSync(new URL(`diffusers/${f}`, FIXTURES), 'utf8'));
    for (const c of fx.cases ?? []) {
      if (!c.full_config || !c.class) continue;
      const r = captureWarnings(() =>
        checkSchedulerConfig(
          { _class_name: c.class, _diffusers_version: fx.oracle?.version, ...c.full_config },
          `${f}:${c.id}`,
        ),
      );
      assert.deepEqual(r.warnings, [], `${f} ${c.id}`);
      n++;
    }
  }
  assert.ok(n >= 20, `checked ${n} diffusers configs`);
});

test('loadModelFolder checks both files: bad values name the file and key, unknown keys warn', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-cfg-'));
  try {
    const model = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));
    const cfg = model.toConfig() as unknown as Record<string, unknown>;
    const sched = new DDPMScheduler({ num_train_timesteps: 50 }).toConfig();
    saveModelFolder(dir, cfg, model.initParams(new Philox(0)), sched);
    assert.deepEqual(captureWarnings(() => loadModelFolder(dir)).warnings, []);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, dropout_p: 0.1 }));
    const r = captureWarnings(() => loadModelFolder(dir));
    assert.deepEqual(r.warnings, [
      `${path.join(dir, 'config.json')}: unknown key "dropout_p" ignored (not a MLPModel key)`,
    ]);
    assert.ok(!('dropout_p' in r.value.modelConfig));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, hidden_dims: [8, 0] }));
    assert.throws(
      () => loadModelFolder(dir),
      new RegExp(`${path.join(dir, 'config.json')}: hidden_dims\\[1\\] = 0 is invalid`),
    );
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    fs.writeFileSync(path.join(dir, 'scheduler_config.json'), JSON.stringify({ ...sched, beta_start: -1 }));
    assert.throws(
      () => loadModelFolder(dir),
      /scheduler_config.json: beta_start = -1 is invalid: Too small: expected number to be >=0/,
    );
    fs.writeFileSync(path.join(dir, 'scheduler_config.json'), '{"beta_start": 0.0001,');
    assert.throws(() => loadModelFolder(dir), /scheduler_config.json: invalid JSON/);
    assert.throws(() => readModelConfigFile(path.join(dir, 'missing.json')), /missing.json: cannot read \(ENOENT\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('diffuse.json is checked when a model folder is read: bad values name the file and the key path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-info-'));
  try {
    const shipped = JSON.parse(
      fs.readFileSync(new URL('../../web/public/models/unet-s-mnist/diffuse.json', import.meta.url), 'utf8'),
    );
    const file = path.join(dir, RUN_INFO_NAME);
    fs.writeFileSync(file, JSON.stringify(shipped));
    assert.deepEqual(readRunInfo(dir), shipped); // a file written by `diffuse train` passes
    const bad = (patch: (j: any) => void): void => {
      const j = structuredClone(shipped);
      patch(j);
      fs.writeFileSync(file, JSON.stringify(j));
    };
    bad((j) => {
      j.data.sampleShape = [1, 0, 28];
    });
    assert.throws(
      () => readRunInfo(dir),
      new RegExp(`${file.replace(/[.]/g, '\\.')}: data\\.sampleShape\\[1\\] = 0 is invalid`),
    );
    bad((j) => {
      j.data.kind = 'audio';
    });
    assert.throws(() => readRunInfo(dir), /data\.kind = "audio" is invalid/);
    bad((j) => {
      delete j.step;
    });
    assert.throws(() => readRunInfo(dir), /step = missing is invalid/);
    bad((j) => {
      j.data.scaler = { mean: [0, 1], std: [1] };
    });
    assert.throws(
      () => readRunInfo(dir),
      /data\.scaler\.std = \[1\] is invalid: mean and std must have the same length/,
    );
    fs.writeFileSync(file, '{"data": ');
    assert.throws(() => readRunInfo(dir), /diffuse\.json: invalid JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
