/**
 * The editing commands as a user runs them (child processes): inpaint (replacement and RePaint) on the
 * shipped MNIST unet-s and on CSV rows of a small 2-D model, img2img, invert with --interpolate,
 * train-classifier + guide, and their one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MNIST = 'web/public/models/unet-s-mnist';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-edit-'));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const t = (f: string) => path.join(tmp, f);

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('inpaint / img2img / invert on the shipped MNIST model write their PNGs', async () => {
  const { writePng } = await import('../../src/io/png.ts');
  const { NDArray } = await import('../../src/engine/index.ts');
  const digit = new NDArray([1, 28, 28]).map((_, i) => (Math.abs((i % 28) - 14) < 3 ? 1 : -1)); // a vertical bar: a "1"
  writePng(t('one.png'), digit, { range: '[-1,1]' });
  writePng(
    t('bar.png'),
    digit.map((v, i) => (Math.floor(i / 28) > 20 ? 1 : v)),
    { range: '[-1,1]' },
  );
  let r = run(
    'inpaint',
    MNIST,
    '--input',
    t('one.png'),
    '--region',
    'lower-half',
    '--steps',
    '3',
    '--n',
    '2',
    '--out',
    t('a.png'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*a\.png \(2 completions, replace, 3 steps/);
  r = run(
    'inpaint',
    MNIST,
    '--input',
    t('one.png'),
    '--region',
    '0,14,28,14',
    '--method',
    'repaint',
    '--steps',
    '4',
    '--jump-length',
    '2',
    '--jump-n-sample',
    '2',
    '--out',
    t('b.png'),
  );
  assert.equal(r.code, 0, r.stderr);
  r = run('img2img', MNIST, '--input', t('one.png'), '--strength', '0.3', '--steps', '10', '--out', t('c.png'));
  assert.equal(r.code, 0, r.stderr);
  r = run(
    'invert',
    MNIST,
    '--input',
    t('one.png'),
    '--input',
    t('bar.png'),
    '--steps',
    '4',
    '--interpolate',
    '3',
    '--out',
    t('d.png'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /DDIM inversion, 4 steps: reconstruction MSE \d\.\d+e[-+]\d+ \(2 inputs/);
  for (const f of ['a.png', 'b.png', 'c.png', 'd.png']) assert.ok(fs.statSync(t(f)).size > 100, f);
});

test('inpaint errors are one line naming the option', async () => {
  let r = run('inpaint', MNIST, '--input', 'nope.png', '--region', 'lower-half', '--out', t('x.png'));
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), 'diffuse: --input nope.png: no such file');
  const { writePng } = await import('../../src/io/png.ts');
  const { NDArray } = await import('../../src/engine/index.ts');
  writePng(t('blank.png'), new NDArray([1, 28, 28]), { range: '[-1,1]' });
  r = run('inpaint', MNIST, '--input', t('blank.png'), '--out', t('x.png'));
  assert.match(r.stderr, /^diffuse: inpaint: pass exactly one of --mask <png> .* or --region/);
  r = run('inpaint', MNIST, '--input', t('blank.png'), '--region', 'bottom', '--out', t('x.png'));
  assert.match(r.stderr, /^diffuse: --region "bottom": expected x,y,w,h/);
  r = run(
    'inpaint',
    MNIST,
    '--input',
    t('blank.png'),
    '--region',
    'lower-half',
    '--method',
    'magic',
    '--out',
    t('x.png'),
  );
  assert.equal(r.stderr.trim(), 'diffuse: --method magic: expected replace or repaint');
  r = run('img2img', MNIST, '--input', t('blank.png'), '--strength', '2', '--out', t('x.png'));
  assert.match(r.stderr, /--strength: expected a number in \[0, 1\], got '2'/);
});

test('imputation of CSV rows with a small 2-D model: empty cells filled, known cells kept', () => {
  const model = t('gmm');
  let r = run(
    'train',
    '--data',
    'gmm',
    '--model',
    'mlp-2d',
    '--steps',
    '300',
    '--batch-size',
    '128',
    '--out',
    model,
    '--quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(t('rows.csv'), 'x,y\n2,\n-2,\n,2\n0.5,nan\n');
  r = run('inpaint', model, '--input', t('rows.csv'), '--n', '3', '--steps', '20', '--out', t('imputed.csv'));
  assert.equal(r.code, 0, r.stderr);
  const lines = fs.readFileSync(t('imputed.csv'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1 + 12);
  const rows = lines.slice(1).map((l) => l.split(',').map(Number));
  rows.forEach((row, i) => {
    assert.ok(row.every(Number.isFinite), `row ${i}: ${row}`);
    const src = [
      [2, null],
      [-2, null],
      [null, 2],
      [0.5, null],
    ][Math.floor(i / 3)];
    src.forEach((v, j) => {
      if (v !== null) assert.ok(Math.abs(row[j] - v) < 1e-4, `row ${i} column ${j}: ${row[j]} vs ${v}`);
    });
  });
  r = run('inpaint', model, '--input', t('rows.csv'), '--known', '0', '--out', t('x.csv'));
  assert.equal(r.stderr.trim(), 'diffuse: inpaint: known value at flat index 4 is NaN; known entries must be finite');
  fs.writeFileSync(t('full.csv'), 'x,y\n2,5\n-2,1\n');
  r = run(
    'inpaint',
    model,
    '--input',
    t('full.csv'),
    '--known',
    '0',
    '--method',
    'repaint',
    '--steps',
    '10',
    '--jump-n-sample',
    '2',
    '--out',
    t('imputed2.csv'),
  );
  assert.equal(r.code, 0, r.stderr);
  const rows2 = fs
    .readFileSync(t('imputed2.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
  assert.deepEqual(
    rows2.map((row) => row[0]),
    [2, -2],
  );
  assert.ok(
    rows2.every((row) => Math.abs(row[1]) < 5),
    'y resampled near the data (the given 5 is replaced)',
  );
  r = run('inpaint', model, '--input', t('rows.csv'), '--region', 'lower-half', '--out', t('x.csv'));
  assert.match(r.stderr, /^diffuse: --mask\/--region: for images/);
});

test('train-classifier + guide on the MNIST model (tiny run)', () => {
  let r = run(
    'train-classifier',
    '--data',
    'mnist',
    '--model',
    MNIST,
    '--steps',
    '20',
    '--batch-size',
    '16',
    '--limit',
    '200',
    '--out',
    t('clf'),
    '--quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(t('clf/config.json')) && fs.existsSync(t('clf/diffusion_pytorch_model.safetensors')));
  r = run(
    'guide',
    MNIST,
    '--classifier',
    t('clf'),
    '--class',
    '3',
    '--scale',
    '2',
    '--steps',
    '3',
    '--n',
    '4',
    '--out',
    t('g.png'),
    '--quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  r = run('guide', MNIST, '--classifier', t('clf'), '--class', '12', '--steps', '3', '--out', t('g.png'));
  assert.equal(r.stderr.trim(), 'diffuse: --class 12: expected an integer in 0..9');
});
