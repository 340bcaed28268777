/**
 * The package as a user installs it: `npm pack`, then `npm i <tarball>` into an empty folder with no
 * .npmrc (only the npm registry reachable), then
 *   (a) a plain `node` ESM script (no tsx) imports from 'diffuse', trains on in-memory points and
 *       samples with two schedulers;
 *   (b) a consumer .ts file type-checks against the shipped .d.ts under
 *       tsc --strict --noUncheckedIndexedAccess --exactOptionalPropertyTypes;
 *   (c) `npx diffuse --version`, a short `npx diffuse train` and `npx diffuse sample`.
 * Also: the tarball's size and contents (no tests, fixtures, web app or sources).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const OWN_DATA = `
import { train, Philox } from 'diffuse';
const rng = new Philox(0);
const angles = rng.uniform([2048]).data;
const points = Array.from(angles, (a) => [2 * Math.cos(2 * Math.PI * a), 2 * Math.sin(2 * Math.PI * a)]);
const { pipeline, losses } = await train({ data: points, steps: 300 });
for (const name of ['ddim', 'dpmsolver++']) {
  const x = await pipeline.withScheduler(name).generate({ batchSize: 200, numInferenceSteps: 20, generator: new Philox(1) });
  let r = 0;
  for (let i = 0; i < 200; i++) r += Math.hypot(x.data[2 * i], x.data[2 * i + 1]) / 200;
  console.log(JSON.stringify({ name, shape: x.shape, radius: r, lastLoss: losses.at(-1) }));
}
`;

const CONSUMER_TS = `
import { train, DDPMPipeline, UNet2DModel, DDIMScheduler, NDArray, Philox, type TrainOnDataOptions, type Progress } from 'diffuse';
import { trace, valueAndGrad, compile, matmul, mul, sum } from 'diffuse/engine';
import { EulerDiscreteScheduler } from 'diffuse/samplers';
import { webBackend } from 'diffuse/web';

const options: TrainOnDataOptions = { data: [[0, 1], [1, 0]], steps: 10, onProgress: (p: Progress) => void p.loss };
export async function main(): Promise<number> {
  const { pipeline } = await train(options);
  const x: NDArray = await pipeline.withScheduler(new DDIMScheduler()).generate({ batchSize: 4, generator: new Philox(0) });
  const unet: UNet2DModel = await UNet2DModel.fromPretrained('some/folder');
  const pipe: DDPMPipeline = new DDPMPipeline(unet, EulerDiscreteScheduler.fromConfig({}));
  const g = trace(valueAndGrad((w, v) => sum(mul(matmul(v, w), matmul(v, w)))), [{ name: 'w', shape: [3, 1] }, { name: 'v', shape: ['batch', 3] }]);
  const f = await compile(g);
  const first = (await f.run({ w: NDArray.zeros([3, 1]), v: NDArray.zeros([1, 3]) }))[0];
  void webBackend; void pipe;
  return x.shape[0]! + (first?.data[0] ?? 0);
}
`;

test('npm pack -> npm i in an empty folder -> node script, tsc --strict consumer, npx diffuse', {
  timeout: 900_000,
}, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-pack-'));
  // The repo's .npmrc (and its project config) must not reach the install: pack into `work`, install there.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], REPO)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const { filename, size, files } = packed[0]!;
  t.diagnostic(`tarball ${filename}: ${(size / 1e6).toFixed(2)} MB packed, ${files.length} files`);
  assert.ok(size <= 1.5e6, `packed size ${size} bytes > 1.5 MB`);
  const paths = files.map((f) => f.path);
  for (const p of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/web.js',
    'dist/engine/index.d.ts',
    'dist/eval/assets/mnist_classifier.safetensors',
    'bin/diffuse.js',
    'LICENSE',
    'README.md',
  ]) {
    assert.ok(paths.includes(p), `tarball lacks ${p}`);
  }
  assert.ok(
    !paths.some((p) => /^(src|test|bench|web|tools|docs)\//.test(p)),
    'tarball holds sources, tests, bench, tools, docs or the web app',
  );

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', path.join(work, filename)], app, {
    npm_config_userconfig: path.join(work, 'no-user-npmrc'),
  });
  t.diagnostic(
    `node_modules: ${execFileSync('du', ['-sh', path.join(app, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]}`,
  );

  // (a) plain node, no tsx
  fs.writeFileSync(path.join(app, 'own-data.mjs'), OWN_DATA);
  const lines = run(process.execPath, ['own-data.mjs'], app)
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  assert.equal(lines.length, 2);
  for (const l of lines) {
    const r = JSON.parse(l) as { name: string; shape: number[]; radius: number };
    assert.deepEqual(r.shape, [200, 2]);
    assert.ok(r.radius > 1.5 && r.radius < 2.5, `${r.name}: mean radius ${r.radius}`);
  }

  // (b) the consumer's compiler checks our .d.ts under its strictest flags
  fs.writeFileSync(path.join(app, 'consumer.ts'), CONSUMER_TS);
  run(
    process.execPath,
    [
      TSC,
      '--noEmit',
      '--strict',
      '--noUncheckedIndexedAccess',
      '--exactOptionalPropertyTypes',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      'false',
      '--typeRoots',
      path.join(REPO, 'node_modules', '@types'),
      '--types',
      'node',
      'consumer.ts',
    ],
    app,
  );

  // (c) the command
  assert.equal(
    run('npx', ['diffuse', '--version'], app).trim(),
    JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version,
  );
  run(
    'npx',
    ['diffuse', 'train', '--data', 'moons', '--steps', '60', '--batch-size', '64', '--out', 'runs/moons'],
    app,
  );
  run(
    'npx',
    ['diffuse', 'sample', 'runs/moons', '--scheduler', 'unipc', '--steps', '10', '--n', '100', '--out', 'moons.csv'],
    app,
  );
  const rows = fs
    .readFileSync(path.join(app, 'moons.csv'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => !/[a-z]/i.test(l));
  assert.equal(rows.length, 100);
  for (const r of rows)
    assert.ok(r.split(',').length === 2 && r.split(',').every((v) => Number.isFinite(Number(v))), `row '${r}'`);
});
