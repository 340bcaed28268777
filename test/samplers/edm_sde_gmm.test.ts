/**
 * The EDM sampler, the EDM scheduler classes, the score-SDE predictor-corrector samplers (VE and VP) and
 * ScoreSdeVeScheduler, each driven by the exact model of a closed-form Gaussian mixture (gaussian_mixture.ts),
 * must reproduce the mixture: sample mean and covariance within 4.5 standard errors (n = 2000) and an RBF MMD^2
 * (median-heuristic bandwidth, 1000 points) within 3x the MMD^2 between fresh mixture sets. The EDM models see what
 * a trained network sees: c_in x and c_noise = ln(sigma) / 4, and answer F = (D - c_skip x) / c_out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { Philox } from '../../src/engine/rng.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import {
  edmOutputFromDenoised,
  edmPreconditioning,
  scoreFromDenoised,
  type EdmPredictionType,
} from '../../src/diffusion/edm.ts';
import { VeSde, VpSde } from '../../src/diffusion/sde.ts';
import { EDMEulerScheduler } from '../../src/samplers/edm_euler.ts';
import { EDMDPMSolverMultistepScheduler } from '../../src/samplers/edm_dpmsolver_multistep.ts';
import { ScoreSdeVeScheduler } from '../../src/samplers/score_sde_ve.ts';
import { sampleEdm, edmSigmas } from '../../src/samplers/edm_sampler.ts';
import { samplePc } from '../../src/samplers/pc_sampling.ts';
import type { StepOptions } from '../../src/samplers/scheduler.ts';
import type { EdmScheduler } from '../../src/samplers/edm_scheduler.ts';

const N = 2000,
  N_MMD = 1000,
  Z = 4.5;
const gmm = GaussianMixture.onCircle({
  components: 8,
  radius: 2,
  stds: [0.2, 0.25, 0.3, 0.2, 0.25, 0.3, 0.2, 0.25],
  weights: [1, 2, 1, 2, 1, 2, 1, 2],
});

function moments(x: NDArray): { mean: Float64Array; cov: Float64Array } {
  const [n, d] = x.shape;
  const mean = new Float64Array(d),
    cov = new Float64Array(d * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] += x.data[r * d + i] / n;
  for (let r = 0; r < n; r++)
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++)
        cov[i * d + j] += ((x.data[r * d + i] - mean[i]) * (x.data[r * d + j] - mean[j])) / (n - 1);
  return { mean, cov };
}
function kernelSum(x: NDArray, y: NDArray, h: number, self: boolean): number {
  const d = x.shape[1],
    g = -1 / (2 * h * h);
  let s = 0;
  for (let a = 0; a < x.shape[0]; a++)
    for (let b = self ? a + 1 : 0; b < y.shape[0]; b++) {
      let q = 0;
      for (let i = 0; i < d; i++) q += (x.data[a * d + i] - y.data[b * d + i]) ** 2;
      s += Math.exp(g * q);
    }
  return s;
}
function mmd2(x: NDArray, y: NDArray, h: number, kyy: number): number {
  const nx = x.shape[0],
    ny = y.shape[0];
  return (2 * kernelSum(x, x, h, true) + nx) / (nx * nx) + kyy - (2 * kernelSum(x, y, h, false)) / (nx * ny);
}
const fresh = gmm.sample(N_MMD, new Philox(101));
const bandwidth = (() => {
  const dist: number[] = [];
  for (let a = 0; a < 400; a++)
    for (let b = a + 1; b < 400; b++)
      dist.push(Math.hypot(fresh.data[2 * a] - fresh.data[2 * b], fresh.data[2 * a + 1] - fresh.data[2 * b + 1]));
  return dist.sort((p, q) => p - q)[dist.length >> 1];
})();
const kyy = (2 * kernelSum(fresh, fresh, bandwidth, true) + N_MMD) / (N_MMD * N_MMD);
const mmdBaseline =
  [102, 103, 105, 106].reduce((a, s) => a + mmd2(gmm.sample(N_MMD, new Philox(s)), fresh, bandwidth, kyy), 0) / 4;
const ref = gmm.sample(20000, new Philox(104));
const SE = (() => {
  const { mean, cov } = moments(ref);
  const seMean = [0, 1].map((i) => Math.sqrt(cov[i * 3] / N));
  const seCov = [0, 1, 2, 3].map((k) => {
    const i = k >> 1,
      j = k & 1;
    let v = 0;
    for (let r = 0; r < ref.shape[0]; r++)
      v += ((ref.data[r * 2 + i] - mean[i]) * (ref.data[r * 2 + j] - mean[j]) - cov[k]) ** 2 / (ref.shape[0] - 1);
    return Math.sqrt(v / N);
  });
  return { seMean, seCov };
})();
const EXACT_MEAN = gmm.mean(),
  EXACT_COV = gmm.covariance();

function checkMixture(name: string, x: NDArray): void {
  assert.deepEqual(x.shape, [N, 2]);
  for (const v of x.data) if (!Number.isFinite(v)) assert.fail(`${name}: non-finite sample`);
  const { mean, cov } = moments(x);
  for (let i = 0; i < 2; i++)
    assert.ok(
      Math.abs(mean[i] - EXACT_MEAN[i]) <= Z * SE.seMean[i],
      `${name}: mean[${i}] ${mean[i]} vs ${EXACT_MEAN[i]} (SE ${SE.seMean[i]})`,
    );
  for (let k = 0; k < 4; k++)
    assert.ok(
      Math.abs(cov[k] - EXACT_COV[k]) <= Z * SE.seCov[k],
      `${name}: cov[${k}] ${cov[k]} vs ${EXACT_COV[k]} (SE ${SE.seCov[k]})`,
    );
  const m = mmd2(new NDArray([N_MMD, 2], x.data.subarray(0, 2 * N_MMD)), fresh, bandwidth, kyy);
  assert.ok(
    m <= 3 * mmdBaseline,
    `${name}: MMD^2 ${m.toExponential(3)} exceeds 3x the fresh-vs-fresh MMD^2 ${mmdBaseline.toExponential(3)}`,
  );
}

/** The exact mixture as an EDM-preconditioned network: F(c_in x, c_noise) with sigma = exp(4 c_noise). */
function edmNetwork(sigmaData: number, predictionType: 'epsilon' | 'v_prediction' = 'epsilon') {
  return (xin: NDArray, cNoise: number): NDArray => {
    const sigma = Math.exp(4 * cNoise);
    const x = xin.mulScalar(1 / edmPreconditioning(sigma, sigmaData).cIn);
    return edmOutputFromDenoised(gmm.denoise(x, { sigma }), x, sigma, sigmaData, predictionType);
  };
}

function runEdmScheduler(s: EdmScheduler, steps: number, seed: number, opts: StepOptions = {}): NDArray {
  const F = edmNetwork(s.config.sigma_data, s.config.prediction_type as EdmPredictionType);
  s.setTimesteps(steps);
  let x = new Philox(seed).normal([N, 2]).mulScalar(s.config.sigma_max);
  for (const t of s.timesteps) x = s.step(F(s.scaleModelInput(x, t), t), t, x, opts).prevSample;
  return x;
}

test('EDM sampler (Heun, Algorithm 1, 32 levels) reproduces the mixture', () => {
  checkMixture('sampleEdm deterministic', sampleEdm(gmm.denoiser(), new Philox(1).normal([N, 2]), { steps: 32 }));
});

test('EDM sampler with churn (Algorithm 2, S_churn 40 of 64 levels) reproduces the mixture', () => {
  checkMixture(
    'sampleEdm churn',
    sampleEdm(gmm.denoiser(), new Philox(2).normal([N, 2]), {
      steps: 64,
      sChurn: 40,
      sTmin: 0.05,
      sTmax: 50,
      sNoise: 1.003,
      generator: new Philox(3),
    }),
  );
  assert.equal(edmSigmas(4).length, 5);
  assert.equal(edmSigmas(4)[4], 0);
});

test('EDMEulerScheduler (100 steps; v_prediction, sigma_data 1) and EDMDPMSolverMultistepScheduler (2M 25, 3M 25, SDE-2M 60) reproduce the mixture', () => {
  checkMixture('EDMEuler 100', runEdmScheduler(EDMEulerScheduler.fromConfig({ sigma_max: 40 }), 100, 4));
  checkMixture(
    'EDMEuler vpred sd1 100',
    runEdmScheduler(
      EDMEulerScheduler.fromConfig({ sigma_max: 40, prediction_type: 'v_prediction', sigma_data: 1 }),
      100,
      5,
    ),
  );
  checkMixture('EDMDPM 2M 25', runEdmScheduler(EDMDPMSolverMultistepScheduler.fromConfig({ sigma_max: 40 }), 25, 6));
  checkMixture(
    'EDMDPM 3M 25',
    runEdmScheduler(EDMDPMSolverMultistepScheduler.fromConfig({ sigma_max: 40, solver_order: 3 }), 25, 7),
  );
  checkMixture(
    'EDMDPM SDE 2M 60',
    runEdmScheduler(
      EDMDPMSolverMultistepScheduler.fromConfig({ sigma_max: 40, algorithm_type: 'sde-dpmsolver++' }),
      60,
      8,
      { generator: new Philox(9) },
    ),
  );
});

test('score-SDE PC: VE (reverse diffusion + Langevin, 400 steps) and VP (Euler-Maruyama + Langevin, 400 steps) reproduce the mixture', async () => {
  const ve = new VeSde({ sigmaMin: 0.01, sigmaMax: 40 });
  checkMixture(
    'PC VE',
    await samplePc(gmm.denoiser(), ve, new Philox(10).normal([N, 2]).mulScalar(ve.priorStd), {
      steps: 400,
      predictor: 'reverse-diffusion',
      snr: 0.16,
      generator: new Philox(11),
    }),
  );
  const vp = new VpSde();
  checkMixture(
    'PC VP',
    await samplePc(gmm.denoiser(), vp, new Philox(12).normal([N, 2]), {
      steps: 400,
      predictor: 'euler-maruyama',
      snr: 0.16,
      generator: new Philox(13),
    }),
  );
});

test('ScoreSdeVeScheduler PC loop (300 steps, 1 corrector) driven by the exact score reproduces the mixture', () => {
  const s = ScoreSdeVeScheduler.fromConfig({ sigma_max: 40, sigma_min: 0.01, snr: 0.16 });
  s.setTimesteps(300);
  const g = new Philox(15);
  let x = new Philox(14).normal([N, 2]).mulScalar(s.initNoiseSigma),
    mean = x;
  const score = (y: NDArray, sigma: number) => scoreFromDenoised(gmm.denoise(y, { sigma }), y, sigma);
  s.timesteps.forEach((t, i) => {
    for (let k = 0; k < s.config.correct_steps; k++)
      x = s.stepCorrect(score(x, s.sigmas[i]), x, { generator: g }).prevSample;
    const out = s.stepPred(score(x, s.sigmas[i]), t, x, { generator: g });
    x = out.prevSample;
    mean = out.prevSampleMean;
  });
  checkMixture('ScoreSdeVe PC', mean);
});

test('samplePc rejects bad options with the name and the allowed values', async () => {
  const x = new NDArray([2, 2]);
  await assert.rejects(
    samplePc(gmm.denoiser(), new VpSde(), x, { steps: 0, generator: new Philox(0) }),
    /steps = 0 must be a positive integer/,
  );
  await assert.rejects(
    samplePc(gmm.denoiser(), new VpSde(), x, { steps: 2, predictor: 'heun' as never, generator: new Philox(0) }),
    /predictor = "heun" is not supported; allowed values: 'euler-maruyama', 'reverse-diffusion', 'none'/,
  );
});
