/**
 * MNIST quality at equal wall time: unet-s trained by diffuse for `--minutes` (snapshot of the EMA
 * weights at `--snapshot` minutes too) beside the PyTorch twin (bench/mnist/twin.py) trained for
 * `--twin-minutes`, same recipe: DDPM linear betas, epsilon MSE, AdamW lr 1e-3 with 100 warm-up
 * steps then constant, clipping 1.0, batch 64, EMA with warm-up; 64 samples by DDIM 50 steps.
 * Each sample set is scored by the project's MNIST classifier (share recognised with > 90%
 * confidence) and FID-MNIST; real digits are scored the same way.
 *
 *   npx tsx bench/mnist/quality.ts --minutes 20 --snapshot 10 --twin-minutes 10 --out docs/mnist
 *
 * Writes OUT/diffuse-<m>min.png, OUT/twin-<m>min.png and OUT/quality.json; prints a table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { createModel } from '../../src/models/registry.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { defaultTrainConfig, train } from '../../src/training/trainer.ts';
import { generate } from '../../src/pipelines/generate.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { samplingScheduler, writeSamples } from '../../src/pipelines/sample_model.ts';
import { scoreDigits } from './score.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const outIdx = process.argv.indexOf('--out');
const OUT = outIdx > 0 ? process.argv[outIdx + 1] : 'tmp/mnist-quality';
const minutes = arg('minutes', 20),
  snapshot = arg('snapshot', 10),
  twinMinutes = arg('twin-minutes', 10);
const skipTwin = process.argv.includes('--skip-twin');
fs.mkdirSync(OUT, { recursive: true });
const runDir = path.join(OUT, 'run');
fs.rmSync(runDir, { recursive: true, force: true });

const noiseSchedule = {
  num_train_timesteps: 1000,
  beta_schedule: 'linear',
  beta_start: 0.0001,
  beta_end: 0.02,
  clip_sample: true,
};

async function sample64(model: ReturnType<typeof createModel>, weights: Record<string, NDArray>): Promise<NDArray> {
  const sched = samplingScheduler('ddim', noiseSchedule, { clip_sample: true });
  return generate(denoiserFor(model, weights), sched, {
    shape: [64, 1, 28, 28],
    steps: 50,
    generator: new Philox(1234),
  });
}

const results: Record<string, unknown>[] = [];
const load = () =>
  fs.existsSync('/proc/loadavg') ? fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : '?';

// --- diffuse
const model = createModel('unet-s');
const data = openDataSource('mnist', { batchSize: 64, seed: 0 });
const snapshots: { minutes: number; steps: number; seconds: number; weights: Record<string, NDArray> }[] = [];
const loadBefore = load();
const r = await train({
  model,
  data,
  outDir: runDir,
  config: {
    ...defaultTrainConfig(),
    steps: 1_000_000,
    batchSize: 64,
    lr: 1e-3,
    minLr: 1e-3,
    warmupSteps: 100,
    maxGradNorm: 1,
    emaDecay: 0.999,
    emaPower: 0.75,
    noiseSchedule,
    checkpointEvery: 1_000_000,
  },
  afterStep: (step, secs, weights) => {
    if (step % 50 === 0) process.stderr.write(`diffuse: step ${step}, ${secs.toFixed(0)} s\n`);
    if (snapshots.length === 0 && secs >= snapshot * 60)
      snapshots.push({ minutes: snapshot, steps: step, seconds: secs, weights: clone(weights()) });
    return secs >= minutes * 60;
  },
});
snapshots.push({ minutes, steps: r.steps, seconds: r.seconds, weights: r.weights });
for (const s of snapshots) {
  const x = await sample64(model, s.weights);
  const png = path.join(OUT, `diffuse-${s.minutes}min.png`);
  writeSamples(png, x, null);
  results.push({
    who: 'diffuse',
    minutes: s.minutes,
    steps: s.steps,
    seconds: Math.round(s.seconds),
    png,
    load: loadBefore,
    ...(await scoreDigits(x)),
  });
}

// --- PyTorch twin
if (!skipTwin) {
  const bin = path.join(OUT, 'mnist.bin');
  const d = loadMnist({ range: '[0,1]' });
  const n = d.images.shape[0];
  const buf = Buffer.alloc(4 + n * 785);
  buf.writeUInt32LE(n, 0);
  for (let i = 0; i < n * 784; i++) buf[4 + i] = Math.round(d.images.data[i] * 255);
  buf.set(d.labels, 4 + n * 784);
  fs.writeFileSync(bin, buf);
  const samplesBin = path.join(OUT, 'twin-samples.bin');
  const loadTwin = load();
  const p = spawnSync('/usr/bin/python3', ['bench/mnist/twin.py', bin, samplesBin, '--minutes', String(twinMinutes)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (p.status !== 0) {
    results.push({
      who: 'pytorch-twin',
      skipped: `bench/mnist/twin.py failed or /usr/bin/python3 with torch is absent (exit ${p.status})`,
    });
  } else {
    const raw = fs.readFileSync(samplesBin);
    const ns = raw.readUInt32LE(0),
      steps = raw.readUInt32LE(4),
      secs = raw.readFloatLE(8);
    const x = new NDArray(
      [ns, 1, 28, 28],
      new Float32Array(raw.buffer.slice(raw.byteOffset + 12, raw.byteOffset + 12 + ns * 784 * 4)),
    );
    const png = path.join(OUT, `twin-${twinMinutes}min.png`);
    writeSamples(png, x, null);
    results.push({
      who: 'pytorch-twin',
      minutes: twinMinutes,
      steps,
      seconds: Math.round(secs),
      png,
      load: loadTwin,
      ...(await scoreDigits(x)),
    });
  }
  fs.rmSync(bin, { force: true });
}

// --- real digits, the ceiling
const real = loadMnist({ limit: 640 });
const idx = new Philox(5).permutation(640).subarray(0, 64);
const realX = new NDArray([64, 1, 28, 28]);
idx.forEach((k, i) => realX.data.set(real.images.data.subarray(k * 784, k * 784 + 784), i * 784));
results.push({ who: 'real digits', ...(await scoreDigits(realX)) });

fs.writeFileSync(
  path.join(OUT, 'quality.json'),
  `${JSON.stringify({ command: process.argv.slice(1).join(' '), date: new Date().toISOString(), results }, null, 2)}\n`,
);
console.table(
  results.map((x) => {
    const { png: _p, ...rest } = x as Record<string, unknown>;
    return rest;
  }),
);

function clone(w: Record<string, NDArray>): Record<string, NDArray> {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.clone()]));
}
