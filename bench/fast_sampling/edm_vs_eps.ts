/**
 * EDM objective vs the DDPM eps objective at equal training budget on the toy sets (issue 18), and the
 * score-SDE predictor-corrector samplers beside the ODE solvers against NFE.
 *
 *   nice npx tsx bench/fast_sampling/edm_vs_eps.ts --steps 4000 --seeds 2 --out docs/fast-sampling
 *
 * Part 1: for each toy set and training seed, `diffuse train --model mlp-2d` with --objective eps (epsilon,
 * linear betas) and --objective edm with --sigma-data 0.5 (EDM's value) and = the data's std, same steps / batch / lr (so the same wall
 * time up to the host-side batch preparation; seconds are reported). Each model is sampled with 2000 points by
 * the same samplers (the formulation adapter converts between eps and EDM models): DPM-Solver++(2M) with 10 and 20
 * steps on the VP grid (dpmsolver++), 20 steps on the Karras grid (edm-dpmsolver++), and EDM Euler with 100 steps
 * (near-converged ODE: the model's own quality). Metrics: MMD ratio to the data-vs-data floor (src/eval/metrics/mmd_ratio.ts, the project's toy
 * metric) and, for the sets with an exact density (gmm, 8gaussians), the mean exact log-density of the samples
 * next to that of fresh data.
 * Part 2 (--part pc): the gmm eps model of seed 0, sampled by DDIM / DPM-Solver++ / UniPC (NFE = steps), the
 * EDM-frame Heun ODE sampler, ScoreSdeVe PC (reverse diffusion + 1 Langevin corrector, NFE = 2 steps) and
 * VP PC (Euler-Maruyama + 1 Langevin corrector, NFE = 2 steps), against NFE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainCommand } from '../../src/cli/train_command.ts';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { denoiserOfModel, modelFormulation } from '../../src/pipelines/formulation.ts';
import { toy2d } from '../../src/data/toy2d.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { Philox, type NDArray } from '../../src/engine/index.ts';
import { samplePc } from '../../src/samplers/pc_sampling.ts';
import { VpSde } from '../../src/diffusion/sde.ts';
import { edmSigmas } from '../../src/samplers/edm_sampler.ts';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : d;
};
const STEPS = Number(arg('--steps', '4000'));
const SEEDS = Number(arg('--seeds', '2'));
const OUT = arg('--out', 'tmp/fast-sampling');
const PART = arg('--part', 'all');
const SETS = arg('--data', 'gmm,8gaussians,moons').split(',');
const N = 2000;
fs.mkdirSync(OUT, { recursive: true });
const runs = path.join('tmp', 'fast-sampling-runs');

function dataStd(name: string): number {
  const x = toy2d(name).sample(20000, new Philox(9));
  let m0 = 0,
    m1 = 0;
  const n = x.shape[0];
  for (let i = 0; i < n; i++) {
    m0 += x.data[2 * i] / n;
    m1 += x.data[2 * i + 1] / n;
  }
  let v = 0;
  for (let i = 0; i < n; i++) v += ((x.data[2 * i] - m0) ** 2 + (x.data[2 * i + 1] - m1) ** 2) / (2 * n);
  return Math.sqrt(v);
}

function metrics(name: string, x: NDArray) {
  const ds = toy2d(name);
  const ref = ds.sample(N, new Philox(101).fold(0x5eed));
  const floors = [202, 303].map((s) => ds.sample(N, new Philox(s).fold(0x5eed)));
  const r = mmdRatio(x, ref, floors);
  let finite = 0;
  for (const v of x.data) if (Number.isFinite(v)) finite++;
  const out: Record<string, number> = { mmdRatio: r.ratio };
  if (ds.logDensity) {
    const lp = ds.logDensity(x),
      lpData = ds.logDensity(ref);
    out.meanLogP = lp.reduce((a, b) => a + b, 0) / lp.length;
    out.meanLogPData = lpData.reduce((a, b) => a + b, 0) / lpData.length;
  }
  if (finite !== x.size) out.nonFinite = x.size - finite;
  return out;
}

const rows: Record<string, unknown>[] = [];
async function train(
  data: string,
  objective: 'eps' | 'edm',
  seed: number,
  sigmaData?: number,
): Promise<{ dir: string; seconds: number }> {
  const dir = path.join(runs, `${data}-${objective}${sigmaData ? `-sd${sigmaData}` : ''}-s${seed}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  await trainCommand({
    data,
    model: 'mlp-2d',
    steps: STEPS,
    batchSize: 256,
    lr: 2e-3,
    out: dir,
    seed,
    checkpointEvery: STEPS,
    quiet: true,
    objective,
    ...(objective === 'edm' ? { sigmaData } : {}),
  });
  return { dir, seconds: (performance.now() - t0) / 1000 };
}

if (PART === 'all' || PART === 'objective') {
  for (const data of SETS) {
    for (let seed = 0; seed < SEEDS; seed++) {
      // EDM with its published sigma_data = 0.5 and with sigma_data = the data's std (EDM's prescription)
      const variants: ['eps' | 'edm', number | undefined][] = [
        ['eps', undefined],
        ['edm', 0.5],
        ['edm', Number(dataStd(data).toFixed(2))],
      ];
      for (const [objective, sigmaData] of variants) {
        const { dir, seconds } = await train(data, objective, seed, sigmaData);
        const m = loadTrainedModel(dir);
        // the same samplers for both models (the formulation adapter converts): few-step DPM-Solver++ on the
        // VP grid and on the Karras grid, and a near-converged ODE solve (EDM Euler, 100 steps) for model quality
        for (const [scheduler, steps] of [
          ['dpmsolver++', 10],
          ['dpmsolver++', 20],
          ['edm-dpmsolver++', 20],
          ['edm-euler', 100],
        ] as const) {
          const x = await sampleLoaded(m, { scheduler, steps, n: N, seed: 7 });
          const row = {
            data,
            objective,
            sigmaData,
            seed,
            trainSteps: STEPS,
            trainSeconds: Math.round(seconds * 10) / 10,
            scheduler,
            steps,
            ...metrics(data, x),
          };
          rows.push(row);
          console.log(JSON.stringify(row));
        }
      }
    }
  }
}

const pcRows: Record<string, unknown>[] = [];
if (PART === 'all' || PART === 'pc') {
  const dir = path.join(runs, 'gmm-eps-s0');
  if (!fs.existsSync(dir)) await train('gmm', 'eps', 0);
  const m = loadTrainedModel(dir);
  const add = (sampler: string, nfe: number, x: NDArray) => {
    const r = { sampler, nfe, ...metrics('gmm', x) };
    pcRows.push(r);
    console.log(JSON.stringify(r));
  };
  for (const steps of [5, 10, 20, 50]) {
    for (const s of ['ddim', 'dpmsolver++', 'unipc'])
      add(s, steps, await sampleLoaded(m, { scheduler: s, steps, n: N, seed: 7 }));
  }
  const D = denoiserOfModel(denoiserFor(m.model, m.weights), modelFormulation(m.schedulerConfig));
  const ac = modelFormulation(m.schedulerConfig);
  const sMax = ac.kind === 'vp' ? Math.sqrt((1 - ac.alphasCumprod[999]) / ac.alphasCumprod[999]) : 80;
  const sMin = ac.kind === 'vp' ? Math.sqrt((1 - ac.alphasCumprod[0]) / ac.alphasCumprod[0]) : 0.002;
  for (const steps of [5, 10, 25]) {
    // EDM Heun (Algorithm 1) on the model's sigma range, async: NFE = 2 steps - 1
    const sig = edmSigmas(steps, sMin, sMax);
    let x = new Philox(7).normal([N, 2]).mulScalar(sig[0]);
    for (let i = 0; i < steps; i++) {
      const d = await D(x, sig[i]);
      const dx = x.map((v, j) => (v - d.data[j]) / sig[i]);
      const x2 = x.map((v, j) => v + (sig[i + 1] - sig[i]) * dx.data[j]);
      if (sig[i + 1] === 0) {
        x = x2;
        break;
      }
      const d2 = await D(x2, sig[i + 1]);
      x = x.map((v, j) => v + (sig[i + 1] - sig[i]) * 0.5 * (dx.data[j] + (x2.data[j] - d2.data[j]) / sig[i + 1]));
    }
    add('edm-heun (ODE)', 2 * steps - 1, x);
  }
  for (const steps of [10, 25, 50, 100, 250]) {
    add(
      'score-sde-ve PC (1 corrector)',
      2 * steps,
      await sampleLoaded(m, { scheduler: 'score-sde-ve', steps, n: N, seed: 7 }),
    );
    const vp = new VpSde();
    add(
      'VP PC (Euler-Maruyama + 1 corrector)',
      2 * steps,
      await samplePc((x, s) => D(x, s), vp, new Philox(7).normal([N, 2]), { steps, generator: new Philox(8) }),
    );
    add(
      'VP reverse SDE (Euler-Maruyama, no corrector)',
      steps,
      await samplePc((x, s) => D(x, s), vp, new Philox(7).normal([N, 2]), {
        steps,
        correctorSteps: 0,
        generator: new Philox(8),
      }),
    );
  }
}

const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const file = path.join(
  OUT,
  PART === 'pc' ? 'pc_vs_nfe.json' : PART === 'objective' ? 'edm_vs_eps.json' : 'fast_sampling.json',
);
fs.writeFileSync(
  file,
  `${JSON.stringify({ command: `nice npx tsx bench/fast_sampling/edm_vs_eps.ts --steps ${STEPS} --seeds ${SEEDS} --part ${PART} --data ${SETS.join(',')} --out ${OUT}`, date: new Date().toISOString(), load, rows, pcRows }, null, 2)}\n`,
);
console.log('wrote', file);
