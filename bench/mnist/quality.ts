/**
 * MNIST time to quality (issue 16, target 1): unet-s trained by diffuse for at most `--minutes` beside the PyTorch
 * twin (bench/mnist/twin.py) trained for `--twin-minutes`, run back to back on the same box, 2 threads each.
 *
 * The twin keeps the standard recipe: DDPM linear betas, epsilon MSE, AdamW lr 1e-3 with 100 warm-up steps then
 * constant, clipping 1.0, batch 64, EMA with warm-up (diffusers' EMAModel rule). diffuse runs the recipe given by
 * the flags (defaults: the same standard recipe), e.g. `--lr 2e-3 --steps 330 --decay cosine --snr-gamma 5`;
 * `--channels 16,32,32` trains a narrower unet-s (the width lever; `--twin-channels` gives the twin the same);
 * `--warmup`, `--beta2` and (EDM objective) `--p-mean=-0.6`, `--p-std` are the remaining recipe levers.
 * With `--minutes 30 --steps N` a run stops at N steps, not at a time: the fixed-step screen of docs/mnist.
 * Both sample `--samples` digits from their EMA weights, `--sample-steps` steps, from the same seed: by default DDIM
 * (leading spacing, clip); `--sampler default,default:10,ddim` also by the model folder's own sampler (an EDM
 * model: EDMDPMSolverMultistepScheduler, what `diffuse sample` uses; `:10` = 10 steps) and
 * `--twin-sampler ddim,dpmpp-2m-karras,dpmpp-2m-karras:10` the twin also by DPM-Solver++(2M) on the Karras grid
 * (one row per entry). Each set is scored by the project's MNIST classifier
 * (share recognised with > 90% confidence) and FID-MNIST; real digits too.
 * Each invocation appends its rows to OUT/quality.json, so repeated runs build the table of medians.
 *
 *   npx tsx bench/mnist/quality.ts --minutes 5 --twin-minutes 10 --out docs/mnist/run3
 *   npx tsx bench/mnist/quality.ts --minutes 5 --skip-twin --lr 2e-3 --steps 330 --decay cosine --tag lr2e-3-cos
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { createModel, modelConfig } from '../../src/models/registry.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { defaultTrainConfig, train } from '../../src/training/trainer.ts';
import type { TrainPredictionType } from '../../src/training/objectives.ts';
import { loadTrainedModel, sampleLoaded, writeSamples } from '../../src/pipelines/sample_model.ts';
import { scoreDigits } from './score.ts';

const { values: o } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    'twin-minutes': { type: 'string', default: '10' },
    'skip-twin': { type: 'boolean', default: false },
    'skip-diffuse': { type: 'boolean', default: false },
    steps: { type: 'string', default: '1000000' },
    lr: { type: 'string', default: '1e-3' },
    decay: { type: 'string', default: 'constant' },
    batch: { type: 'string', default: '64' },
    'snr-gamma': { type: 'string' },
    prediction: { type: 'string', default: 'epsilon' },
    objective: { type: 'string', default: 'eps' },
    // comma lists: each trained model is sampled (and scored, one row each) by every entry
    sampler: { type: 'string', default: 'ddim' },
    'twin-sampler': { type: 'string', default: 'ddim' },
    keep: { type: 'boolean', default: false },
    'beta-schedule': { type: 'string', default: 'linear' },
    'ema-decay': { type: 'string', default: '0.999' },
    warmup: { type: 'string', default: '100' },
    beta2: { type: 'string', default: '0.999' },
    // EDM's log-normal training noise levels, ln sigma ~ N(P_mean, P_std^2) (defaults: EDM's -1.2, 1.2)
    'p-mean': { type: 'string' },
    'p-std': { type: 'string' },
    samples: { type: 'string', default: '128' },
    'sample-steps': { type: 'string', default: '50' },
    seed: { type: 'string', default: '0' },
    tag: { type: 'string', default: 'standard' },
    // the width lever: unet-s with other block_out_channels (the twin stays unet-s)
    channels: { type: 'string', default: '32,64,64' },
    'twin-channels': { type: 'string', default: '32,64,64' },
    out: { type: 'string', default: 'tmp/mnist-quality' },
  },
});
const OUT = o.out as string;
const minutes = Number(o.minutes),
  twinMinutes = Number(o['twin-minutes']),
  nSamples = Number(o.samples),
  sampleSteps = Number(o['sample-steps']),
  lr = Number(o.lr);
fs.mkdirSync(OUT, { recursive: true });
const samplers = (o.sampler as string).split(','),
  twinSamplers = (o['twin-sampler'] as string).split(',');
/** The file-name suffix of a sampler's sample grid ('' for DDIM, the runs' sampler before it was a choice). */
const samplerSuffix = (entry: string) => (entry === 'ddim' ? '' : `-${entry.replace(/[^a-z0-9+-]/gi, '')}`);

const noiseSchedule = {
  num_train_timesteps: 1000,
  beta_schedule: o['beta-schedule'] as string,
  beta_start: 0.0001,
  beta_end: 0.02,
  clip_sample: true,
  prediction_type: o.prediction as string,
};
const recipe = {
  lr,
  decay: o.decay,
  steps: Number(o.steps),
  batchSize: Number(o.batch),
  snrGamma: o['snr-gamma'] === undefined ? undefined : Number(o['snr-gamma']),
  predictionType: o.prediction as TrainPredictionType,
  betaSchedule: o['beta-schedule'],
  emaDecay: o['ema-decay'] === 'none' ? null : Number(o['ema-decay']),
  warmupSteps: Number(o.warmup),
  beta2: Number(o.beta2),
  pMean: o['p-mean'] === undefined ? undefined : Number(o['p-mean']),
  pStd: o['p-std'] === undefined ? undefined : Number(o['p-std']),
  objective: o.objective,
  channels: (o.channels as string).split(',').map(Number),
};

const load = () =>
  fs.existsSync('/proc/loadavg') ? fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : '?';
const results: Record<string, unknown>[] = [];

async function runDiffuse(): Promise<void> {
  const runDir = path.join(OUT, 'run');
  fs.rmSync(runDir, { recursive: true, force: true });
  const model = createModel({ ...modelConfig('unet-s'), block_out_channels: recipe.channels });
  const data = openDataSource('mnist', { batchSize: recipe.batchSize, seed: Number(o.seed) });
  const loadBefore = load();
  const r = await train({
    model,
    data,
    outDir: runDir,
    config: {
      ...defaultTrainConfig(),
      steps: recipe.steps,
      batchSize: recipe.batchSize,
      lr,
      minLr: recipe.decay === 'cosine' ? 0 : lr,
      warmupSteps: recipe.warmupSteps,
      beta2: recipe.beta2,
      maxGradNorm: 1,
      emaDecay: recipe.emaDecay,
      emaPower: 0.75,
      objective:
        recipe.objective === 'edm'
          ? { formulation: 'edm', edm: { sigmaData: 0.5, pMean: recipe.pMean, pStd: recipe.pStd } }
          : { predictionType: recipe.predictionType, snrGamma: recipe.snrGamma },
      noiseSchedule,
      seed: Number(o.seed),
      checkpointEvery: 1_000_000,
    },
    afterStep: (step, secs) => {
      if (step % 50 === 0) process.stderr.write(`diffuse: step ${step}, ${secs.toFixed(0)} s\n`);
      return secs >= minutes * 60;
    },
  });
  // sampled from the saved folder (its EMA weights), as `diffuse sample` does: an EDM model on DDIM is converted;
  // 'default' is the folder's own sampler (EDMDPMSolverMultistepScheduler for an EDM model, as `diffuse sample`)
  const loaded = loadTrainedModel(runDir);
  for (const sampler of samplers) {
    const [name, steps] = sampler.split(':');
    const t0 = performance.now();
    const x = await sampleLoaded(loaded, {
      scheduler: name === 'default' ? undefined : name,
      steps: steps ? Number(steps) : sampleSteps,
      n: nSamples,
      seed: 1234,
    });
    const sampleSeconds = (performance.now() - t0) / 1000;
    const png = path.join(OUT, `diffuse-${o.tag}-${minutes}min-seed${o.seed}${samplerSuffix(sampler)}.png`);
    writeSamples(png, x, null);
    results.push({
      who: 'diffuse',
      tag: o.tag,
      sampler,
      recipe,
      minutes,
      steps: r.steps,
      seconds: Math.round(r.seconds),
      sampleSeconds: Math.round(sampleSeconds),
      png,
      load: loadBefore,
      ...(await scoreDigits(x)),
    });
  }
  if (o.keep) fs.renameSync(runDir, path.join(OUT, `run-${o.tag}-seed${o.seed}`));
  else fs.rmSync(runDir, { recursive: true, force: true });
}

async function runTwin(): Promise<void> {
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
  const args = ['bench/mnist/twin.py', bin, samplesBin, '--minutes', String(twinMinutes)];
  args.push('--channels', o['twin-channels'] as string);
  args.push('--samples', String(nSamples), '--sample-steps', String(sampleSteps), '--seed', String(o.seed));
  args.push('--samplers', twinSamplers.join(','));
  const p = spawnSync('/usr/bin/python3', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.rmSync(bin, { force: true });
  if (p.status !== 0) {
    results.push({ who: 'pytorch-twin', skipped: `bench/mnist/twin.py failed or torch is absent (exit ${p.status})` });
    return;
  }
  // one record per sampler: uint32 n, uint32 steps, float32 train s, float32 sample s, samples, labels
  const raw = fs.readFileSync(samplesBin);
  let at = 0;
  for (const sampler of twinSamplers) {
    const ns = raw.readUInt32LE(at),
      steps = raw.readUInt32LE(at + 4),
      secs = raw.readFloatLE(at + 8),
      sampleSecs = raw.readFloatLE(at + 12);
    const x = new NDArray(
      [ns, 1, 28, 28],
      new Float32Array(raw.buffer.slice(raw.byteOffset + at + 16, raw.byteOffset + at + 16 + ns * 3136)),
    );
    at += 16 + ns * 3136 + ns;
    const png = path.join(OUT, `twin-${twinMinutes}min-seed${o.seed}${samplerSuffix(sampler)}.png`);
    writeSamples(png, x, null);
    results.push({
      who: 'pytorch-twin',
      sampler,
      channels: o['twin-channels'],
      minutes: twinMinutes,
      steps,
      seconds: Math.round(secs),
      sampleSeconds: Math.round(sampleSecs),
      png,
      load: loadTwin,
      ...(await scoreDigits(x)),
    });
  }
}

async function scoreReal(): Promise<void> {
  const real = loadMnist({ limit: 2000 });
  const idx = new Philox(5).permutation(2000).subarray(0, nSamples);
  const realX = new NDArray([nSamples, 1, 28, 28]);
  idx.forEach((k, i) => realX.data.set(real.images.data.subarray(k * 784, k * 784 + 784), i * 784));
  results.push({ who: 'real digits', ...(await scoreDigits(realX)) });
}

if (!o['skip-diffuse']) await runDiffuse();
if (!o['skip-twin']) await runTwin();
await scoreReal();

const file = path.join(OUT, 'quality.json');
const before = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { runs: unknown[] }).runs : [];
const run = { command: process.argv.slice(1).join(' '), date: new Date().toISOString(), results };
fs.writeFileSync(file, `${JSON.stringify({ runs: [...before, run] }, null, 2)}\n`);
console.table(results.map(({ png: _p, recipe: _r, ...rest }) => rest));
