/**
 * Recipe sweep for mlp-2d on the toy sets: train one variant of the toy recipe per (data, seed), sample it
 * with one or more samplers, and score the samples by the biased (V-statistic) MMD^2 to fresh data divided
 * by the same estimator between two fresh data sets (the data-vs-data floor, mean of 3 pairs): 1.0 is
 * indistinguishable from data at n = 2000. One JSON line per (variant, data, seed, sampler) is appended to
 * --out, with steps, training seconds and the load average.
 *
 *   nice -n 10 npx tsx bench/toy/sweep.ts --variants bench/toy/variants/lr.json --data 8gaussians,checkerboard \
 *     --seeds 0 --out bench/toy/results/lr.jsonl
 *
 * A variants file is a JSON array of { name, ...RecipeOverrides } (see src/training/recipes.ts); a missing
 * key keeps the toy recipe's value. `samplers` (["dpmsolver++:20", ...]) overrides the recipe's sampler.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Philox } from '../../src/engine/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { train } from '../../src/training/trainer.ts';
import { generate } from '../../src/pipelines/generate.ts';
import { denoiserFor, modelSampleShape } from '../../src/pipelines/denoiser.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { writeScatterPng } from '../../src/io/scatter.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { TOY2D_RECIPE, recipeTrainConfig, withRecipeOverrides, type ToyRecipe } from '../../src/training/recipes.ts';

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  return process.argv[i + 1];
}

const variants = JSON.parse(fs.readFileSync(arg('variants'), 'utf8')) as ({
  name: string;
  samplers?: string[];
} & Record<string, unknown>)[];
const datasets = arg('data', '8gaussians').split(',');
const seeds = arg('seeds', '0').split(',').map(Number);
const out = arg('out');
const only = arg('only', '');
const n = Number(arg('n', '2000'));
const pngDir = arg('png', '');
fs.mkdirSync(path.dirname(out), { recursive: true });

for (const v of variants) {
  if (only && !only.split(',').includes(v.name)) continue;
  const { name, samplers, ...overrides } = v;
  const recipe: ToyRecipe = withRecipeOverrides(TOY2D_RECIPE, overrides);
  const list = samplers ?? [`${recipe.sampler.scheduler}:${recipe.sampler.steps}`];
  for (const data of datasets)
    for (const seed of seeds) {
      const run = path.join('tmp', 'toy-sweep', `${name}-${data}-${seed}`);
      fs.rmSync(run, { recursive: true, force: true });
      const source = openDataSource(data, { batchSize: recipe.batchSize, seed });
      const model = modelFromConfig(modelConfig('mlp-2d', recipe.model));
      const config = recipeTrainConfig(recipe, { seed, checkpointEvery: recipe.steps, keepLast: 1 });
      const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const res = await train({ model, data: source, config, outDir: run });
      const fresh = source.reference(n, 1000 + seed);
      const floors = [2000, 3000, 4000].map((s) => source.reference(n, s + seed));
      for (const s of list) {
        // "name:steps[:key=value,...]": a scheduler alias, its steps and config overrides (numbers or strings)
        const [sched, nfe, extra] = s.split(':');
        const kv = Object.fromEntries(
          (extra ?? '')
            .split(',')
            .filter(Boolean)
            .map((e) => {
              const [k, v] = e.split('=');
              return [k, Number.isFinite(Number(v)) ? Number(v) : v];
            }),
        );
        const scheduler = samplingScheduler(
          sched,
          { ...config.noiseSchedule, prediction_type: config.objective.predictionType },
          { clip_sample: false, ...kv },
        );
        const t1 = performance.now();
        let x: Awaited<ReturnType<typeof generate>>;
        try {
          x = await generate(denoiserFor(model, res.weights), scheduler, {
            shape: [n, ...modelSampleShape(model)],
            steps: Number(nfe),
            generator: new Philox(seed + 1),
          });
        } catch (e) {
          console.log(`${name} ${data} ${s}: ${(e as Error).message.slice(0, 120)}`);
          continue;
        }
        const sampleSeconds = (performance.now() - t1) / 1000;
        if (pngDir) {
          fs.mkdirSync(pngDir, { recursive: true });
          writeScatterPng(path.join(pngDir, `${name}-${data}-${seed}-${s.replace(/[:=,]/g, '-')}.png`), x, {
            reference: fresh,
            width: 384,
            height: 384,
          });
        }
        const r = mmdRatio(x, fresh, floors),
          wide = mmdRatio(x, fresh, floors, { lengthScale: 1 });
        const row = {
          variant: name,
          data,
          seed,
          sampler: s,
          steps: recipe.steps,
          trainSeconds: +res.seconds.toFixed(2),
          sampleSeconds: +sampleSeconds.toFixed(2),
          ratio: +r.ratio.toFixed(3),
          ratioMedianKernel: +wide.ratio.toFixed(3),
          mmd2: r.mmd2,
          floor: r.floor,
          finalLoss: res.losses.slice(-100).reduce((a, b) => a + b, 0) / 100,
          load: load0,
          overrides,
        };
        fs.appendFileSync(out, `${JSON.stringify(row)}\n`);
        console.log(
          `${name.padEnd(24)} ${data.padEnd(13)} seed ${seed} ${s.padEnd(16)} ratio ${r.ratio.toFixed(2).padStart(6)}  train ${res.seconds.toFixed(1)} s  load ${load0}`,
        );
      }
      fs.rmSync(run, { recursive: true, force: true });
    }
}
