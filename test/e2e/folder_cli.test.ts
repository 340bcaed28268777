/**
 * `diffuse info | sample | eval | export` on every model folder layout, through the CLI: diffuse's earlier
 * flat layout, the pipeline layout `export --out` writes, a pipeline's unet/ folder alone (a bare model folder
 * inside a pipeline), and a bare folder from elsewhere (fp16 weights, no scheduler: the stated default).
 * The same model in three layouts gives the same samples, metric and ONNX bytes; bad folders fail with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Philox } from '../../src/engine/index.ts';
import { MLPModel } from '../../src/models/mlp.ts';
import { saveModelFolder, writeRunInfo } from '../../src/folders/index.ts';
import { errorLine, runCli, tmpDir, REPO } from './_cli.ts';

test('info, sample, eval and export work on the flat, pipeline and bare layouts and agree', {
  timeout: 300_000,
}, async () => {
  const root = tmpDir('diffuse-layouts-');
  try {
    const flat = path.join(root, 'flat'),
      pipe = path.join(root, 'pipe'),
      bare = path.join(pipe, 'unet');
    const model = new MLPModel({ in_channels: 2, hidden_dims: [16, 16], time_embedding_dim: 8 });
    saveModelFolder(flat, model.toConfig() as unknown as Record<string, unknown>, model.initParams(new Philox(0)), {
      _class_name: 'DDPMScheduler',
      num_train_timesteps: 100,
      beta_schedule: 'linear',
      clip_sample: false,
    });
    writeRunInfo(flat, {
      data: { spec: '8gaussians', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
      nullClass: null,
      step: 0,
    });
    const ex = await runCli(['export', flat, '--out', pipe]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(
      ex.stderr,
      /wrote .*pipe \(diffusers pipeline layout: model_index\.json, unet\/, scheduler\/, diffuse\.json; weights fp32\)/,
    );
    const layouts = [
      ['diffuse', flat],
      ['pipeline', pipe],
      ['model', bare],
    ] as const;
    const csv: string[] = [],
      evals: string[] = [],
      onnx: Buffer[] = [];
    for (const [kind, dir] of layouts) {
      const info = await runCli(['info', dir]);
      assert.equal(info.code, 0, info.stderr);
      const j = JSON.parse(info.stdout);
      assert.equal(j.layout, kind);
      assert.deepEqual(j.weights.dtypes, ['F32']);
      assert.equal(j.data.spec, '8gaussians', `${kind}: diffuse.json found`);
      assert.notEqual(j.scheduler_config.startsWith('default'), true, `${kind}: the folder's scheduler`);
      const out = path.join(root, `${kind}.csv`);
      const s = await runCli([
        'sample',
        dir,
        '--n',
        '40',
        '--steps',
        '3',
        '--scheduler',
        'ddim',
        '--seed',
        '4',
        '--out',
        out,
      ]);
      assert.equal(s.code, 0, s.stderr);
      csv.push(fs.readFileSync(out, 'utf8'));
      const e = await runCli([
        'eval',
        dir,
        '--metric',
        'mmd',
        '--n',
        '64',
        '--seeds',
        '1',
        '--scheduler',
        'ddim',
        '--quiet',
      ]);
      assert.equal(e.code, 0, e.stderr);
      evals.push(/^ddim\s+20\s+20\s+(\S+)/m.exec(e.stdout)?.[1] ?? e.stdout); // the metric's mean (a timing column follows)
      const file = path.join(root, `${kind}.onnx`);
      const o = await runCli(['export', dir, '--onnx', file]);
      assert.equal(o.code, 0, o.stderr);
      onnx.push(fs.readFileSync(file));
    }
    assert.ok(csv.every((c) => c === csv[0]) && csv[0].split('\n').length > 40, 'the same samples from every layout');
    assert.ok(evals.every((c) => c === evals[0]) && Number.isFinite(Number(evals[0])), evals.join('\n'));
    assert.ok(
      onnx.every((b) => b.equals(onnx[0])),
      'the same ONNX bytes from every layout',
    );
    // fp16 on request, then every command on it
    const half = path.join(root, 'half');
    const h = await runCli(['export', pipe, '--out', half, '--dtype', 'fp16']);
    assert.equal(h.code, 0, h.stderr);
    assert.deepEqual(JSON.parse((await runCli(['info', half])).stdout).weights.dtypes, ['F16']);
    assert.equal(
      (await runCli(['sample', half, '--n', '8', '--steps', '2', '--out', path.join(root, 'half.csv')])).code,
      0,
    );
    // a bare folder from elsewhere: fp16 weights, no scheduler config -> the stated default, with a warning
    const fixture = path.join(REPO, 'test/fixtures/folders/mlp-f16');
    const b = await runCli(['info', fixture]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(
      JSON.parse(b.stdout).scheduler_config,
      'default (DDPMScheduler, linear betas 0.0001..0.02, 1000 steps)',
    );
    assert.match(b.stderr, /warning: .*mlp-f16: no scheduler config; using the default DDPMScheduler/);
    const bs = await runCli(['sample', fixture, '--n', '8', '--steps', '2', '--out', path.join(root, 'bare.csv')]);
    assert.equal(bs.code, 0, bs.stderr);
    // export refuses to overwrite a model, and writes nothing
    const again = await runCli(['export', flat, '--out', pipe]);
    assert.equal(again.code, 1);
    assert.match(
      errorLine(again),
      /^diffuse: --out .*pipe already holds a model; choose another folder \(nothing was overwritten\)$/,
    );
    const noOut = await runCli(['export', flat]);
    assert.match(
      errorLine(noOut),
      /^diffuse: export: pass --onnx <file\.onnx> \(a standalone denoiser\) and\/or --out <folder>/,
    );
    const badDtype = await runCli(['export', flat, '--out', path.join(root, 'x'), '--dtype', 'bf16']);
    assert.match(errorLine(badDtype), /^diffuse: --dtype bf16 is invalid: expected fp32 or fp16$/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('bad folders through the CLI: one line each, exit 1 (.bin only, missing weights, shape mismatch, unsupported dtype)', {
  timeout: 120_000,
}, async () => {
  const root = tmpDir('diffuse-badfolders-');
  try {
    const cfg = JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [4], time_embedding_dim: 4 });
    const mk = (name: string, files: Record<string, string | Uint8Array>) => {
      fs.mkdirSync(path.join(root, name));
      for (const [f, d] of Object.entries({ 'config.json': cfg, ...files }))
        fs.writeFileSync(path.join(root, name, f), d);
      return path.join(root, name);
    };
    const f16 = fs.readFileSync(path.join(REPO, 'test/fixtures/folders/mlp-f16/diffusion_pytorch_model.safetensors'));
    const cases: [string, RegExp][] = [
      [
        mk('pickle', { 'diffusion_pytorch_model.bin': 'not opened' }),
        /only PyTorch pickle weights \(diffusion_pytorch_model\.bin\); diffuse never unpickles/,
      ],
      [mk('empty', {}), /empty: no model weights \(expected diffusion_pytorch_model\.safetensors/],
      [
        mk('shape', { 'config.json': cfg.replace('[4]', '[5]'), 'diffusion_pytorch_model.safetensors': f16 }),
        /problem\(s\) with the parameters of MLPModel: parameter 'layers\.0\.weight' has shape \[4, 6\], the model expects \[5, 6\]/,
      ],
      [
        mk('dtype', {
          'diffusion_pytorch_model.safetensors': Buffer.concat([
            f16.subarray(0, 8),
            Buffer.from(f16.subarray(8).toString('latin1').replace(/"F16"/, '"I16"'), 'latin1'),
          ]),
        }),
        /tensor ".*" has dtype I16; model weights must be F16, BF16, F32, F64/,
      ],
    ];
    for (const [dir, re] of cases) {
      for (const cmd of [
        ['info', dir],
        ['sample', dir, '--n', '2', '--steps', '1', '--out', path.join(root, 'x.csv')],
        ['export', dir, '--onnx', path.join(root, 'x.onnx')],
      ]) {
        const r = await runCli(cmd);
        assert.equal(r.code, 1, `${cmd.join(' ')}: ${r.stderr}`);
        const lines = r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.includes('warning:'));
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], re, cmd.join(' '));
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
