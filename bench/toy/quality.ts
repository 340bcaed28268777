/**
 * mlp-2d on toy data: train under a wall-time budget, sample 2000 points with 20 DPM-Solver++ steps, and compare
 * MMD to fresh data with the MMD between two fresh data sets of the same size (issue 4's bar: within 2x).
 *
 *   npx tsx bench/toy/quality.ts --out docs/toy        (8gaussians and moons; ~1 minute each on 2 cores)
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainCommand } from '../../src/cli/train_command.ts';
import { loadTrainedModel, sampleLoaded, writeSamples } from '../../src/pipelines/sample_model.ts';
import { openDataSource } from '../../src/training/data_source.ts';
import { mmdRbf, medianSqDistance } from '../../src/eval/mmd.ts';
import type { NDArray } from '../../src/engine/index.ts';

/** sqrt of the biased MMD^2 (V-statistic: diagonal terms included), same kernel and bandwidth as mmdRbf. */
function biasedMmd(x: NDArray, y: NDArray): number {
  const n = x.shape[0], m = y.shape[0], h = medianSqDistance(x, y);
  const u = mmdRbf(x, y, h);
  // V = U + (1 - mean offdiag kxx)/n + (1 - mean offdiag kyy)/m, approximated by the diagonal correction terms
  return Math.sqrt(Math.max(0, u + 1 / n + 1 / m - (selfMean(x, h) / n + selfMean(y, h) / m)));
}
function selfMean(x: NDArray, h: number): number {
  const n = x.shape[0], d = x.size / n;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    let q = 0;
    for (let k = 0; k < d; k++) { const t = x.data[i * d + k] - x.data[j * d + k]; q += t * t; }
    s += Math.exp(-q / (2 * h));
  }
  return (2 * s) / (n * (n - 1));
}

const outIdx = process.argv.indexOf('--out');
const OUT = outIdx > 0 ? process.argv[outIdx + 1] : 'tmp/toy-quality';
const steps = Number(process.argv[process.argv.indexOf('--steps') + 1] || 6000);
fs.mkdirSync(OUT, { recursive: true });
const rows: Record<string, unknown>[] = [];
for (const data of ['8gaussians', 'moons']) {
  const run = path.join('tmp', `toy-${data}`);
  fs.rmSync(run, { recursive: true, force: true });
  const t0 = performance.now();
  await trainCommand({ data, model: 'mlp-2d', steps, batchSize: 256, lr: 2e-3, out: run, seed: 0, checkpointEvery: steps, quiet: true });
  const secs = (performance.now() - t0) / 1000;
  const m = loadTrainedModel(run);
  const src = openDataSource(data, { batchSize: 1, seed: 0 });
  const fresh = src.reference(2000, 101), fresh2 = src.reference(2000, 202);
  // Unbiased MMD^2 estimates (can be negative at the noise floor) and the biased (V-statistic) MMD, always >= 0.
  const floor2 = mmdRbf(fresh2, fresh), floor = biasedMmd(fresh2, fresh);
  const x = await sampleLoaded(m, { scheduler: 'dpmsolver++', steps: 20, n: 2000, seed: 7 });
  const mmd2 = mmdRbf(x, fresh), mmd = biasedMmd(x, fresh);
  writeSamples(path.join(OUT, `${data}.png`), x, m.info, undefined, fresh);
  rows.push({ data, steps, trainSeconds: Math.round(secs), mmd2Unbiased: mmd2, mmd2FreshVsFresh: floor2, mmdBiased: mmd, mmdBiasedFreshVsFresh: floor, ratio: mmd / floor });
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
fs.writeFileSync(path.join(OUT, 'quality.json'), `${JSON.stringify({ command: `npx tsx bench/toy/quality.ts --out ${OUT} --steps ${steps}`, date: new Date().toISOString(), load, rows }, null, 2)}\n`);
console.table(rows);
