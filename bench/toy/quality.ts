/**
 * `diffuse train --data NAME` with its defaults (the toy recipe, TOY2D_RECIPE) on each toy set and seed:
 * training steps and seconds, then 2000 samples with the recipe's sampler scored by the MMD ratio of
 * src/eval/metrics/mmd_ratio.ts (biased MMD^2 to fresh data over the mean of 3 fresh-vs-fresh values; 1.0 = as
 * close as fresh data; issue 16's bar: <= 1.3). Writes quality.json (every run, medians per set, the load
 * average at each run's start) and a data | samples figure per set (first seed) to --out.
 *
 *   nice -n 10 npx tsx bench/toy/quality.ts --out docs/toy --seeds 0,1,2
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainCommand, type TrainCliOptions } from '../../src/cli/train_command.ts';
import { sampleModelFolder } from '../../src/pipelines/sample_model.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { writeScatterComparisonPng } from '../../src/eval/plots/scatter_compare.ts';
import { TOY2D_RECIPE } from '../../src/training/recipes.ts';

const argOf = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const OUT = argOf('out', 'tmp/toy-quality');
const seeds = argOf('seeds', '0,1,2').split(',').map(Number);
const datasets = argOf('data', 'moons,8gaussians,checkerboard,swissroll,circles').split(',');
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
fs.mkdirSync(OUT, { recursive: true });

const runs: Record<string, unknown>[] = [];
const summary: Record<string, unknown>[] = [];
const { scheduler, steps: nfe } = TOY2D_RECIPE.sampler;
for (const data of datasets) {
  const mine: { ratio: number; seconds: number; steps: number }[] = [];
  for (const seed of seeds) {
    const run = path.join('tmp', 'toy-quality', `${data}-${seed}`);
    fs.rmSync(run, { recursive: true, force: true });
    const load = loadavg();
    // exactly the command line `diffuse train --data NAME --out DIR --seed S --quiet`: every other flag is the recipe's
    const o = {
      data,
      model: 'mlp-2d',
      out: run,
      seed,
      quiet: true,
      explicit: ['data', 'out', 'seed', 'quiet'],
    } as unknown as TrainCliOptions;
    const res = await trainCommand(o);
    const src = openDataSource(data, { batchSize: 1, seed: 0 });
    const n = 2000;
    const fresh = src.reference(n, 1000 + seed);
    const floors = [2000, 3000, 4000].map((s) => src.reference(n, s + seed));
    const t1 = performance.now();
    const x = await sampleModelFolder(run, { scheduler, steps: nfe, n, seed: seed + 1 });
    const sampleSeconds = (performance.now() - t1) / 1000;
    const r = mmdRatio(x, fresh, floors);
    if (seed === seeds[0]) {
      writeScatterComparisonPng(path.join(OUT, `${data}.png`), fresh, x, {
        title: `${data}: data vs samples`,
        caption: `diffuse train --data ${data} (defaults: ${res.steps} steps), ${nfe} ${scheduler} steps; MMD ratio ${r.ratio.toFixed(2)}`,
      });
    }
    mine.push({ ratio: r.ratio, seconds: res.seconds, steps: res.steps });
    runs.push({
      data,
      seed,
      steps: res.steps,
      trainSeconds: +res.seconds.toFixed(1),
      sampleSeconds: +sampleSeconds.toFixed(2),
      mmd2: r.mmd2,
      floor: r.floor,
      ratio: +r.ratio.toFixed(3),
      load,
    });
    console.log(
      `${data.padEnd(13)} seed ${seed}: ${res.steps} steps in ${res.seconds.toFixed(1)} s, sampling ${sampleSeconds.toFixed(1)} s, MMD ratio ${r.ratio.toFixed(2)} (load ${load})`,
    );
    fs.rmSync(run, { recursive: true, force: true });
  }
  summary.push({
    data,
    steps: mine[0].steps,
    medianTrainSeconds: +median(mine.map((m) => m.seconds)).toFixed(1),
    medianRatio: +median(mine.map((m) => m.ratio)).toFixed(2),
    ratios: mine.map((m) => +m.ratio.toFixed(2)),
  });
}
const command = `nice -n 10 npx tsx bench/toy/quality.ts --out ${OUT} --seeds ${seeds.join(',')} --data ${datasets.join(',')}`;
fs.writeFileSync(
  path.join(OUT, 'quality.json'),
  `${JSON.stringify({ command, date: new Date().toISOString(), recipe: TOY2D_RECIPE, summary, runs }, null, 2)}\n`,
);
console.table(summary);
