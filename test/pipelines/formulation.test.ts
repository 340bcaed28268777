/**
 * Model formulations (pipelines/formulation.ts): a model folder's scheduler config says whether the network is
 * EDM's preconditioned F or a VP eps / v / x0 model, and adaptModelToScheduler lets any model drive any
 * scheduler. Checked against the closed-form Gaussian mixture (gaussian_mixture.ts computes eps*, D and the
 * score independently): the adapted outputs equal the exact ones at test points, and full sampling runs across
 * formulations reproduce the mixture's mean and covariance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { edmOutputFromDenoised, edmPreconditioning } from '../../src/diffusion/edm.ts';
import { DDPMScheduler } from '../../src/samplers/ddpm.ts';
import { ScoreSdeVeScheduler } from '../../src/samplers/score_sde_ve.ts';
import { EdmObjective } from '../../src/training/edm_objective.ts';
import {
  adaptModelToScheduler,
  generateScoreSde,
  modelFormulation,
  samplerRangeFor,
  sigmaAtTimestep,
} from '../../src/pipelines/formulation.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { generate, type AsyncModelFn } from '../../src/pipelines/generate.ts';

const gmm = GaussianMixture.onCircle({ components: 4, radius: 1.5, stds: [0.3, 0.4, 0.3, 0.4], weights: [1, 2, 1, 2] });
const vpConfig = new DDPMScheduler({ clip_sample: false }).toConfig();
const edmConfig = new EdmObjective({ sigmaData: 0.8 }).schedulerConfig();
const ac = new DDPMScheduler({}).alphasCumprod;

/** An eps network on the DDPM table (what a VP-trained model computes), asynchronous like ONNX Runtime. */
const epsNet: AsyncModelFn = async (x, t) => gmm.epsilonModel(ac)(x, t);
/** An EDM network F(c_in x; c_noise) with sigma_data 0.8. */
const edmNet: AsyncModelFn = async (xin, c) => {
  const sigma = Math.exp(4 * c[0]); // c_noise = ln(sigma) / 4 (EdmObjective's default noise_label_scale 1)
  const x = xin.mulScalar(1 / edmPreconditioning(sigma, 0.8).cIn);
  return edmOutputFromDenoised(gmm.denoise(x, { sigma }), x, sigma, 0.8);
};
const pts = NDArray.from([
  [0.3, -0.2],
  [1.6, 0.1],
  [-1, 1.2],
]);

function closeAll(a: NDArray, b: NDArray, tol: number, what: string): void {
  a.data.forEach((v, i) =>
    assert.ok(Math.abs(v - b.data[i]) <= tol * (1 + Math.abs(b.data[i])), `${what}[${i}]: ${v} vs ${b.data[i]}`),
  );
}

test('the formulation comes from the scheduler config class', () => {
  assert.equal(modelFormulation(edmConfig).kind, 'edm');
  assert.equal(modelFormulation(vpConfig).kind, 'vp');
  const r = samplerRangeFor('EDMEulerScheduler', vpConfig);
  assert.ok(Math.abs((r.sigma_max as number) - Math.sqrt((1 - ac[999]) / ac[999])) < 1e-4);
  assert.deepEqual(samplerRangeFor('DDIMScheduler', edmConfig), {});
  // integer timesteps give the table's sigma exactly
  assert.ok(Math.abs(sigmaAtTimestep(ac, 500) - Math.sqrt((1 - ac[500]) / ac[500])) < 1e-12);
});

test('an EDM model on DDIM answers the exact eps*; a VP eps model on an EDM scheduler answers the exact F; both as a score on ScoreSdeVe', async () => {
  const ddim = samplingScheduler('ddim', edmConfig, { clip_sample: false });
  const f1 = adaptModelToScheduler(edmNet, edmConfig, ddim);
  for (const t of [10, 400, 999]) {
    const abar = (ddim as unknown as { alphasCumprod: Float32Array }).alphasCumprod[t];
    const xvp = pts.mulScalar(Math.sqrt(abar));
    closeAll(await f1(xvp, new Float32Array(3).fill(t)), gmm.epsilon(xvp, abar), 2e-4, `eps at t=${t}`);
  }
  const edmSched = samplingScheduler('edm-dpmsolver++', vpConfig);
  edmSched.setTimesteps(5);
  const f2 = adaptModelToScheduler(epsNet, vpConfig, edmSched);
  for (const t of edmSched.timesteps) {
    const xin = edmSched.scaleModelInput(pts.mulScalar(3), t);
    const sigma = (edmSched as unknown as { currentSigma(): number }).currentSigma();
    const x = pts.mulScalar(3);
    const exact = edmOutputFromDenoised(gmm.denoise(x, { sigma }), x, sigma, 0.5);
    closeAll(await f2(xin, new Float32Array(3).fill(t)), exact, 2e-3, `F at sigma=${sigma}`);
    edmSched.step(exact, t, x);
  }
  const sde = samplingScheduler('score-sde-ve', vpConfig) as ScoreSdeVeScheduler;
  assert.ok(sde.config.sigma_max > 150 && sde.config.sigma_max < 160, 'sigma range from the beta table');
  for (const [net, cfg] of [
    [epsNet, vpConfig],
    [edmNet, edmConfig],
  ] as const) {
    const f = adaptModelToScheduler(net, cfg, sde);
    closeAll(await f(pts, new Float32Array(3).fill(0.7)), gmm.score(pts, { sigma: 0.7 }), 2e-3, 'score');
  }
});

function checkMoments(name: string, x: NDArray): void {
  const n = x.shape[0];
  const m = [0, 0];
  for (let r = 0; r < n; r++) {
    m[0] += x.data[2 * r] / n;
    m[1] += x.data[2 * r + 1] / n;
  }
  const em = gmm.mean(),
    ec = gmm.covariance();
  const se = [0, 1].map((i) => Math.sqrt(ec[3 * i] / n));
  for (let i = 0; i < 2; i++)
    assert.ok(Math.abs(m[i] - em[i]) < 4.5 * se[i], `${name}: mean[${i}] ${m[i]} vs ${em[i]}`);
  for (let i = 0; i < 2; i++) {
    let v = 0;
    for (let r = 0; r < n; r++) v += (x.data[2 * r + i] - m[i]) ** 2 / (n - 1);
    assert.ok(Math.abs(v - ec[3 * i]) < 0.1 * ec[3 * i], `${name}: var[${i}] ${v} vs ${ec[3 * i]}`);
  }
}

test('sampling across formulations reproduces the mixture (EDM model with DPM-Solver++ and Euler; eps model with EDM DPM-Solver++ and score-SDE PC)', async () => {
  const n = 1500;
  const run = async (name: string, net: AsyncModelFn, cfg: Record<string, unknown>, steps: number) => {
    const sched = samplingScheduler(
      name,
      cfg,
      name.startsWith('edm') || name === 'score-sde-ve' ? {} : { clip_sample: false },
    );
    const fn = adaptModelToScheduler(net, cfg, sched);
    if (sched instanceof ScoreSdeVeScheduler)
      return generateScoreSde(fn, sched, { shape: [n, 2], steps, generator: new Philox(5) });
    return generate(fn, sched, { shape: [n, 2], steps, generator: new Philox(4) });
  };
  checkMoments('EDM model + dpmsolver++ 25', await run('dpmsolver++', edmNet, edmConfig, 25));
  checkMoments('EDM model + euler 50 (karras)', await run('EulerDiscreteScheduler', edmNet, { ...edmConfig }, 50));
  checkMoments('eps model + edm-dpmsolver++ 25', await run('edm-dpmsolver++', epsNet, vpConfig, 25));
  checkMoments('eps model + score-sde-ve 300', await run('score-sde-ve', epsNet, vpConfig, 300));
});
