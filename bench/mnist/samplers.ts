/**
 * Which sampler for a trained MNIST model (issue 16, target 1): one model folder (e.g. a run kept by
 * `quality.ts --keep`), sampled by each `--samplers` entry from the same seed, every entry scored as quality.ts
 * scores its runs (share recognised with > 90% confidence by the project's MNIST classifier, FID-MNIST).
 *
 * An entry is `NAME:STEPS` or `NAME:STEPS:eta=E`, NAME a --scheduler alias or diffusers class name. The counted
 * model evaluations (NFE) are printed beside each, since Heun-type samplers call the model twice per step.
 *
 *   npx tsx bench/mnist/samplers.ts --run tmp/levers/fixed/run-pmean1.0-seed0 --samples 512 \
 *     --samplers ddim:50,ddim:50:eta=1,edm-dpmsolver++:50,edm-sde-dpmsolver++:50,heun:25
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';
import type { AsyncModelFn } from '../../src/pipelines/generate.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { scoreDigits } from './score.ts';

const { values: o } = parseArgs({
  options: {
    run: { type: 'string' },
    samplers: { type: 'string', default: 'ddim:50' },
    samples: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1234' },
    out: { type: 'string' },
  },
});
if (!o.run) throw new Error('--run: give the model folder to sample (e.g. a run kept by quality.ts --keep)');

const loaded = loadTrainedModel(o.run);
const base = denoiserFor(loaded.model, loaded.weights);
const rows: Record<string, unknown>[] = [];
for (const entry of (o.samplers as string).split(',')) {
  const [scheduler, stepsText, ...opts] = entry.split(':');
  const eta = opts.find((x) => x.startsWith('eta='));
  let nfe = 0;
  const counted: AsyncModelFn = (x, t, labels) => {
    nfe++;
    return base(x, t, labels);
  };
  const t0 = performance.now();
  const x = await sampleLoaded(loaded, {
    scheduler,
    steps: Number(stepsText),
    n: Number(o.samples),
    seed: Number(o.seed),
    eta: eta ? Number(eta.slice(4)) : undefined,
    denoiser: counted,
  });
  const seconds = (performance.now() - t0) / 1000;
  const score = await scoreDigits(x);
  rows.push({ sampler: entry, nfe, seconds: Math.round(seconds), ...score });
  console.log(
    `${entry.padEnd(28)} NFE ${String(nfe).padStart(4)}  ${seconds.toFixed(0).padStart(4)} s  recognised ${(100 * score.recognised90).toFixed(1)}%  FID ${score.fidMnist.toFixed(1)}`,
  );
  // the rows so far, after every entry (a later entry that fails keeps the earlier ones)
  if (o.out) fs.writeFileSync(o.out, `${JSON.stringify({ run: o.run, samples: Number(o.samples), rows }, null, 1)}\n`);
}
