/**
 * Progressive distillation (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion Models",
 * Algorithm 2), in the EDM frame: a student learns to take in one deterministic step what its teacher takes in
 * two; the student becomes the next teacher, halving the steps until `stepsTo`.
 *
 * Grid: t_i = i / N on [0, 1], sigma(t) = sigma_max (1 - t)^rho (a Karras ramp ending at sigma = 0), so the grids of
 * N and 2N steps nest. One step is DDIM's (Euler's on the probability-flow ODE in the VE frame):
 *   x_next = D + (sigma_next / sigma) (x - D).
 * The student's target is the denoised value that makes its single step land where the teacher's two land:
 *   D~ = (x'' - (sigma'' / sigma) x) / (1 - sigma'' / sigma)       (D~ = x'' when sigma'' = 0)
 * and it is trained with the EDM preconditioning and weighting (its F regresses (D~ - c_skip x) / c_out). The student
 * is saved as an EDM model folder whose EDMEulerScheduler config (sigma_min = sigma_max K^-rho) reproduces this grid,
 * so `diffuse sample DIR --scheduler edm-euler --steps K` runs it.
 *
 * @example
 *   const target = distillationTarget(x, xTeacher, 1.2, 0);    // the one-step target of a step sigma 1.2 -> 0
 */
import { NDArray, Philox } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import type { DiffusionModel } from '../models/registry.ts';
import { edmPreconditioning, EDM_DEFAULTS } from '../diffusion/edm.ts';
import { denoiserFor } from '../pipelines/denoiser.ts';
import { denoiserOfModel, modelFormulation } from '../pipelines/formulation.ts';
import { TrainStep } from './train_step.ts';
import { EdmObjective, edmLoss } from './edm_objective.ts';

/**
 * The student's denoised target of one step sigma -> sigmaNext from x, given where the teacher's two steps landed
 * (xTeacher): (xTeacher - (sigmaNext / sigma) x) / (1 - sigmaNext / sigma).
 * @example distillationTarget(x, x2, 2, 0.5)
 */
export function distillationTarget(x: NDArray, xTeacher: NDArray, sigma: number, sigmaNext: number): NDArray {
  if (!(sigma > 0 && sigmaNext >= 0 && sigmaNext < sigma))
    throw new Error(`distillationTarget: need sigma > sigmaNext >= 0, got ${sigma} -> ${sigmaNext}`);
  const r = sigmaNext / sigma;
  return xTeacher.map((v, i) => (v - r * x.data[i]) / (1 - r));
}

/** One deterministic (DDIM / Euler) step in the VE frame: D + (sigmaNext / sigma) (x - D). */
export function ddimStepVe(x: NDArray, D: NDArray, sigma: number, sigmaNext: number): NDArray {
  const r = sigmaNext / sigma;
  return x.map((v, i) => D.data[i] + r * (v - D.data[i]));
}

/** sigma(t) = sigma_max (1 - t)^rho: the distillation grid (t = i / N). */
export function distillSigma(t: number, sigmaMax: number, rho: number): number {
  return sigmaMax * Math.max(0, 1 - t) ** rho;
}

/** What distillation reads from the data: batches of clean samples (a DataSource of `diffuse train` fits). */
export interface DistillData {
  describe(): { sampleShape: readonly number[] };
  next(): { x: NDArray } | Promise<{ x: NDArray }>;
}

export interface DistillOptions {
  /** The teacher: any trained model (its folder's scheduler config says its formulation). */
  teacher: { model: DiffusionModel; weights: Record<string, NDArray>; schedulerConfig: Record<string, unknown> };
  data: DistillData;
  /** Final number of student steps K (a power of 2 below startSteps). */
  stepsTo: number;
  /** Student steps of the first round (the teacher runs 2x this many); default 32. */
  startSteps?: number;
  /** Optimizer steps per halving round (default 1000). */
  iterations?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** sigma_data of the student's EDM preconditioning (default: the teacher's if it is an EDM model, else 0.5). */
  sigmaData?: number;
  /** Largest noise level (default: the teacher's sigma_max, or its beta table's largest sigma). */
  sigmaMax?: number;
  rho?: number;
  /** Called after each round with the student of `steps` steps (its weights and scheduler config). */
  onRound?: (info: {
    steps: number;
    seconds: number;
    loss: number;
    weights: Record<string, NDArray>;
    schedulerConfig: Record<string, unknown>;
  }) => void;
}

export interface DistillResult {
  weights: Record<string, NDArray>;
  /** The student's scheduler config (EDMEulerScheduler whose K-step grid is the distillation grid). */
  schedulerConfig: Record<string, unknown>;
  rounds: { steps: number; seconds: number; loss: number }[];
}

/**
 * Progressive distillation; see the file comment. The student starts from the teacher's weights when the teacher
 * is an EDM model with the same sigma_data (else from a fresh initialisation).
 * @example const r = await progressiveDistill({ teacher: loadPipelineFolder('runs/moons'), data, stepsTo: 4 });
 */
export async function progressiveDistill(o: DistillOptions): Promise<DistillResult> {
  const K = o.stepsTo,
    N0 = o.startSteps ?? 32;
  const isPow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
  if (!isPow2(K)) throw new Error(`--steps-to ${K}: must be a power of 2 (1, 2, 4, 8, ...)`);
  if (!isPow2(N0) || N0 <= K) throw new Error(`--start-steps ${N0}: must be a power of 2 larger than --steps-to ${K}`);
  const f = modelFormulation(o.teacher.schedulerConfig);
  const sigmaData = o.sigmaData ?? (f.kind !== 'vp' ? f.sigmaData : EDM_DEFAULTS.sigmaData);
  const sigmaMax =
    o.sigmaMax ??
    (f.kind !== 'vp'
      ? f.sigmaMax
      : Math.sqrt((1 - f.alphasCumprod[f.alphasCumprod.length - 1]) / f.alphasCumprod[f.alphasCumprod.length - 1]));
  const rho = o.rho ?? EDM_DEFAULTS.rho;
  const iters = o.iterations ?? 1000,
    B = o.batchSize ?? 256,
    lr = o.lr ?? 1e-3;
  const model = o.teacher.model;
  const shape = o.data.describe().sampleShape;
  const rng = new Philox(o.seed ?? 0);
  const obj = new EdmObjective({ sigmaData });
  const studentConfig = (k: number) => ({
    _class_name: 'EDMEulerScheduler',
    sigma_min: sigmaMax * Math.max(k, 2) ** -rho, // (a 1-step grid is sigma_max alone)
    sigma_max: sigmaMax,
    sigma_data: sigmaData,
    sigma_schedule: 'karras',
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    rho,
    final_sigmas_type: 'zero',
  });
  const sameFormulation = f.kind === 'edm' && f.sigmaData === sigmaData && f.noiseLabelScale === 1;
  let weights = sameFormulation ? { ...o.teacher.weights } : model.initParams(rng.fold(1));
  let teacherD = denoiserOfModel(denoiserFor(model, o.teacher.weights), f);
  const rounds: DistillResult['rounds'] = [];
  for (let N = N0; N >= K; N /= 2) {
    const t0 = performance.now();
    const ts = await TrainStep.create(
      (p, b) => withParams(model, p, () => edmLoss(model.forward(b.x_t, b.t), b)),
      weights,
      obj.batchSpecs([B, ...shape]),
      { maxGradNorm: 1 },
    );
    const batchRng = rng.fold(100 + N);
    let loss = 0;
    for (let it = 0; it < iters; it++) {
      const x0 = (await o.data.next()).x.reshape([B, ...shape]);
      // one grid position per batch (one teacher call per noise level)
      const i = Math.min(N - 1, Math.floor(batchRng.uniform([1]).data[0] * N));
      const s = distillSigma(i / N, sigmaMax, rho),
        s1 = distillSigma((i + 0.5) / N, sigmaMax, rho),
        s2 = distillSigma((i + 1) / N, sigmaMax, rho);
      const noise = batchRng.normal(x0.shape);
      const x = x0.map((v, j) => v + s * noise.data[j]);
      const D1 = await teacherD(x, s);
      const x1 = ddimStepVe(x, D1, s, s1);
      const D2 = await teacherD(x1, s1);
      const x2 = s2 === 0 ? D2 : ddimStepVe(x1, D2, s1, s2);
      const target = distillationTarget(x, x2, s, s2);
      const { cSkip, cOut, cIn, cNoise } = edmPreconditioning(s, sigmaData);
      const batch = {
        x_t: x.map((v) => cIn * v),
        t: new NDArray([B]).map(() => cNoise),
        target: target.map((d, j) => (d - cSkip * x.data[j]) / cOut),
        weight: new NDArray([B]).map(() => 1),
      };
      const lrNow = lr * 0.5 * (1 + Math.cos((Math.PI * it) / iters));
      loss = (await ts.step(batch, lrNow)).loss;
    }
    weights = { ...ts.params };
    const seconds = (performance.now() - t0) / 1000;
    rounds.push({ steps: N, seconds, loss });
    o.onRound?.({ steps: N, seconds, loss, weights, schedulerConfig: studentConfig(N) });
    teacherD = denoiserOfModel(denoiserFor(model, weights), modelFormulation(studentConfig(N)));
  }
  return { weights, schedulerConfig: studentConfig(K), rounds };
}
