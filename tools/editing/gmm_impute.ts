/**
 * Measurement for docs/editing.md: 2-D imputation on the 'gmm' data set (five isotropic Gaussians with
 * exact density): given x1, sample x2 and compare with the exact conditional p(x2 | x1) (a 1-D Gaussian
 * mixture in closed form, conditionalGaussianMixture) by the Kolmogorov-Smirnov statistic and the
 * probability of the upper mode P(x2 > 0). Two models: the exact eps of the mixture (isolates the method's
 * error) and a trained mlp-2d folder (--model; method + model error).
 *
 * Run: nice -n 10 npx tsx tools/editing/gmm_impute.ts --model tmp/gmm --n 2000 [--out tmp/impute.json]
 */
import fs from 'node:fs';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { defaultGaussianMixture } from '../../src/data/toy2d.ts';
import { conditionalGaussianMixture, ksStatistic, mixtureCdf1d } from '../../src/data/gmm_conditional.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { schedulerWithOverrides } from '../../src/pipelines/scheduler_choice.ts';
import { inpaint, repaint } from '../../src/pipelines/inpaint.ts';
import { knownCoordinatesMask } from '../../src/pipelines/mask.ts';
import type { AsyncModelFn } from '../../src/pipelines/generate.ts';
import type { RePaintScheduler } from '../../src/samplers/repaint.ts';
import type { BetaScheduler } from '../../src/samplers/scheduler.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('n', '2000'));
const gmm = defaultGaussianMixture();
const trained = arg('model', '') ? loadPipelineFolder(arg('model', '')) : null;
const schedCfg = trained?.schedulerConfig ?? {
  num_train_timesteps: 1000,
  beta_schedule: 'linear',
  beta_start: 0.0001,
  beta_end: 0.02,
};
const rows: Record<string, unknown>[] = [];
const methods: [string, number, number, number][] = [
  ['replace', 100, 0, 0],
  ['replace', 1000, 0, 0],
  ['repaint', 100, 10, 10],
  ['repaint', 250, 10, 10],
];

for (const [modelName, modelFor] of [
  [
    'exact eps',
    (s: BetaScheduler): AsyncModelFn => {
      const e = gmm.epsilonModel(s.alphasCumprod);
      return async (x, t) => e(x, t[0]);
    },
  ],
  ...(trained
    ? [['trained mlp-2d', (_s: BetaScheduler): AsyncModelFn => denoiserFor(trained.model, trained.weights)] as const]
    : []),
] as const) {
  for (const x1 of [2, 1, 0.5]) {
    const cond = conditionalGaussianMixture(gmm, [0], [x1]);
    for (const [method, steps, jl, jn] of methods) {
      const t0 = performance.now();
      const known = new NDArray([N, 2]);
      for (let i = 0; i < N; i++) known.data[2 * i] = x1;
      const o = { known, mask: knownCoordinatesMask(2, [0]), steps, generator: new Philox(99) };
      let out: NDArray;
      if (method === 'replace') {
        const s = schedulerWithOverrides('DDPMScheduler', schedCfg, { clip_sample: false }) as BetaScheduler;
        out = await inpaint(modelFor(s), s, o);
      } else {
        const s = schedulerWithOverrides('RePaintScheduler', schedCfg, { clip_sample: false }) as RePaintScheduler;
        out = await repaint(modelFor(s), s, { ...o, jumpLength: jl, jumpNSample: jn, eta: 1 });
      }
      const x2 = Array.from({ length: N }, (_, i) => out.data[2 * i + 1]);
      const row = {
        model: modelName,
        x1,
        method: method === 'replace' ? `replacement, DDPM ${steps} steps` : `RePaint ${steps} steps, jumps ${jl}x${jn}`,
        n: N,
        ks: ksStatistic(x2, (v) => mixtureCdf1d(cond, v)),
        ks_critical_0_001: 1.95 / Math.sqrt(N),
        p_upper: x2.filter((v) => v > 0).length / N,
        p_upper_exact: 1 - mixtureCdf1d(cond, 0),
        seconds: (performance.now() - t0) / 1000,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}
const out = arg('out', '');
if (out) fs.writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
