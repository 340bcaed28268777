/**
 * Which formulation a trained model uses, and how to drive any sampler with it.
 *
 * A model folder says what its network computes through its scheduler_config.json, as diffusers does:
 *  - an EDM scheduler class (EDMEulerScheduler, EDMDPMSolverMultistepScheduler): the network is EDM's F
 *    (Karras et al. 2022), called on c_in x with the noise label noise_label_scale * ln(sigma) / 4 (diffusers: scale 1),
 *    and D = c_skip x + c_out F;
 *  - a consistency scheduler class (CMStochasticIterativeScheduler): the network is a consistency model's F
 *    (Song et al. 2023, src/diffusion/consistency.ts) with EDM's c_in and the noise label
 *    noise_label_scale * ln(sigma) / 4 (diffusers' 250 ln(sigma): scale 1000, the default of this class), and the
 *    consistency function f = c_skip x + c_out F with the boundary coefficients (f(x, sigma_min) = x) serves as
 *    its denoiser D;
 *  - any other class (DDPMScheduler, ...): a variance-preserving model eps / v / x0(x_vp, t) on the beta table
 *    of that config.
 * Every model is a denoiser D(x; sigma) in the VE frame x = x0 + sigma n (src/diffusion/edm.ts), so
 * `adaptModelToScheduler` turns it into what the chosen scheduler calls: the same network unchanged when the
 * formulations agree, else the conversion (EDM model on DDIM / DPM-Solver / Euler, eps model on the EDM
 * schedulers, either as a score for ScoreSdeVeScheduler).
 *
 * @example
 *   const sched = samplingScheduler('edm-dpmsolver++', m.schedulerConfig);
 *   const fn = adaptModelToScheduler(denoiserFor(m.model, m.weights), m.schedulerConfig, sched);
 *   const x = await generate(fn, sched, { shape: [64, 2], steps: 10, generator: new Philox(0) });
 */
import { NDArray, type RandomGenerator } from '../engine/index.ts';
import {
  denoisedToVpOutput,
  edmOutputFromDenoised,
  edmPreconditioning,
  scoreFromDenoised,
  vpOutputToDenoised,
  type EdmPredictionType,
} from '../diffusion/edm.ts';
import { schedulerFromConfig, type Scheduler } from '../samplers/scheduler.ts';
import { EdmScheduler } from '../samplers/edm_scheduler.ts';
import { ScoreSdeVeScheduler } from '../samplers/score_sde_ve.ts';
import type { DDPMScheduler } from '../samplers/ddpm.ts';
import { consistencyPreconditioning } from '../diffusion/consistency.ts';
import { logSigmas, sigmasFromAlphasCumprod, sigmaToT } from '../schedules/sigmas.ts';
import type { AsyncModelFn } from './generate.ts';

/** The formulation of a trained model, read from its scheduler config. */
export type ModelFormulation =
  | {
      kind: 'edm';
      sigmaData: number;
      predictionType: EdmPredictionType;
      sigmaMin: number;
      sigmaMax: number;
      noiseLabelScale: number;
    }
  | {
      kind: 'consistency';
      sigmaData: number;
      sigmaMin: number;
      sigmaMax: number;
      noiseLabelScale: number;
    }
  | { kind: 'vp'; alphasCumprod: Float32Array; predictionType: string };

/** The EDM scheduler classes: a config of one of these marks an EDM-preconditioned model. */
export const EDM_SCHEDULER_CLASSES: readonly string[] = ['EDMEulerScheduler', 'EDMDPMSolverMultistepScheduler'];

/** The consistency-model scheduler classes: a config of one of these marks a consistency model. */
export const CONSISTENCY_SCHEDULER_CLASSES: readonly string[] = ['CMStochasticIterativeScheduler'];

/** diffusers' CMStochasticIterativeScheduler model timestep: 250 ln(sigma) = 1000 x EDM's c_noise. */
export const CM_TIMESTEP_LABEL_SCALE = 1000;

function positiveKey(cfg: Record<string, unknown>, key: string, dflt: number): number {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    throw new Error(`scheduler config: ${key} = ${JSON.stringify(v)} must be a finite number > 0`);
  return v;
}

/**
 * The formulation recorded by a model folder's scheduler_config.json.
 * @example modelFormulation({ _class_name: 'EDMEulerScheduler', sigma_data: 0.5 }).kind  // 'edm'
 */
export function modelFormulation(schedulerConfig: Record<string, unknown>): ModelFormulation {
  const cls = schedulerConfig._class_name;
  if (typeof cls === 'string' && EDM_SCHEDULER_CLASSES.includes(cls)) {
    const s = schedulerFromConfig(cls, schedulerConfig) as EdmScheduler;
    return {
      kind: 'edm',
      sigmaData: s.config.sigma_data,
      predictionType: s.config.prediction_type as EdmPredictionType,
      sigmaMin: s.config.sigma_min,
      sigmaMax: s.config.sigma_max,
      noiseLabelScale: s.config.noise_label_scale,
    };
  }
  if (typeof cls === 'string' && CONSISTENCY_SCHEDULER_CLASSES.includes(cls)) {
    // diffusers' defaults (CMStochasticIterativeScheduler); noise_label_scale is diffuse's key (see above)
    const f = {
      kind: 'consistency' as const,
      sigmaData: positiveKey(schedulerConfig, 'sigma_data', 0.5),
      sigmaMin: positiveKey(schedulerConfig, 'sigma_min', 0.002),
      sigmaMax: positiveKey(schedulerConfig, 'sigma_max', 80),
      noiseLabelScale: positiveKey(schedulerConfig, 'noise_label_scale', CM_TIMESTEP_LABEL_SCALE),
    };
    if (!(f.sigmaMax > f.sigmaMin))
      throw new Error(`scheduler config: sigma_max = ${f.sigmaMax} must be larger than sigma_min = ${f.sigmaMin}`);
    return f;
  }
  const { _class_name: _, ...rest } = schedulerConfig;
  const s = schedulerFromConfig('DDPMScheduler', rest) as DDPMScheduler;
  return { kind: 'vp', alphasCumprod: s.alphasCumprod, predictionType: s.config.prediction_type };
}

/**
 * Noise level sigma(t) = sqrt((1 - abar) / abar) at a (fractional) training timestep t, interpolating
 * linearly in log sigma between table entries (the inverse of `sigmaToT`).
 * @example sigmaAtTimestep(alphasCumprod, 999)
 */
export function sigmaAtTimestep(alphasCumprod: ArrayLike<number>, t: number): number {
  const T = alphasCumprod.length;
  const tc = Math.min(Math.max(t, 0), T - 1);
  const lo = Math.floor(tc),
    w = tc - lo;
  const s = (i: number) => Math.sqrt((1 - alphasCumprod[i]) / alphasCumprod[i]);
  if (w === 0 || lo === T - 1) return s(lo);
  return Math.exp((1 - w) * Math.log(s(lo)) + w * Math.log(s(lo + 1)));
}

/** Rows of x [B, ...] share one noise level here; all samplers use one per step. */
function uniformLevel(t: Float32Array, what: string): number {
  for (let i = 1; i < t.length; i++)
    if (t[i] !== t[0])
      throw new Error(`${what}: the batch mixes noise levels (${t[0]}, ${t[i]}); one level per call is supported`);
  return t[0];
}

/** The model as an asynchronous denoiser D(x; sigma) of the VE frame. */
export function denoiserOfModel(
  fn: AsyncModelFn,
  f: ModelFormulation,
): (x: NDArray, sigma: number, labels?: Float32Array) => Promise<NDArray> {
  if (f.kind === 'edm') {
    return async (x, sigma, labels) => {
      const { cIn, cNoise } = edmPreconditioning(sigma, f.sigmaData, f.predictionType);
      const F = await fn(x.mulScalar(cIn), new Float32Array(x.shape[0]).fill(f.noiseLabelScale * cNoise), labels);
      const { cSkip, cOut } = edmPreconditioning(sigma, f.sigmaData, f.predictionType);
      return x.map((v, i) => cSkip * v + cOut * F.data[i]);
    };
  }
  if (f.kind === 'consistency') {
    return async (x, sigma, labels) => {
      const { cSkip, cOut, cIn, cNoise } = consistencyPreconditioning(sigma, f.sigmaData, f.sigmaMin);
      const F = await fn(x.mulScalar(cIn), new Float32Array(x.shape[0]).fill(f.noiseLabelScale * cNoise), labels);
      return x.map((v, i) => cSkip * v + cOut * F.data[i]);
    };
  }
  const ls = logSigmas(sigmasFromAlphasCumprod(f.alphasCumprod));
  return async (x, sigma, labels) => {
    const t = sigmaToT(sigma, ls);
    const out = await fn(x.mulScalar(1 / Math.sqrt(1 + sigma * sigma)), new Float32Array(x.shape[0]).fill(t), labels);
    return vpOutputToDenoised(
      out.shape[1] === x.shape[1] ? out : firstChannelsOf(out, x.shape[1]),
      x,
      sigma,
      f.predictionType,
    );
  };
}

function firstChannelsOf(x: NDArray, c: number): NDArray {
  const B = x.shape[0],
    C2 = x.shape[1],
    inner = x.size / (B * C2);
  const out = new NDArray([B, c, ...x.shape.slice(2)]);
  for (let b = 0; b < B; b++) out.data.set(x.data.subarray(b * C2 * inner, b * C2 * inner + c * inner), b * c * inner);
  return out;
}

function sameTable(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The model function a scheduler expects, from a model of formulation `trainingConfig`. See the file comment.
 * @example const fn = adaptModelToScheduler(denoiserFor(model, weights), folder.schedulerConfig, sched);
 */
export function adaptModelToScheduler(
  fn: AsyncModelFn,
  trainingConfig: Record<string, unknown>,
  sched: Scheduler,
): AsyncModelFn {
  const f = modelFormulation(trainingConfig);
  const D = denoiserOfModel(fn, f);
  if (sched instanceof ScoreSdeVeScheduler) {
    // called as model(x, sigma) (diffusers' ScoreSdeVePipeline), answers the score (D - x) / sigma^2
    return async (x, t, labels) => {
      const sigma = uniformLevel(t, 'ScoreSdeVeScheduler model');
      return scoreFromDenoised(await D(x, sigma, labels), x, sigma);
    };
  }
  if (CONSISTENCY_SCHEDULER_CLASSES.includes(sched.className)) return adaptToConsistencyScheduler(fn, f, D, sched);
  if (sched instanceof EdmScheduler) {
    if (
      f.kind === 'edm' &&
      f.sigmaData === sched.config.sigma_data &&
      f.predictionType === sched.config.prediction_type &&
      f.noiseLabelScale === sched.config.noise_label_scale
    )
      return fn;
    return async (xin, t, labels) => {
      const sigma =
        sched.stepIndex !== null
          ? sched.currentSigma()
          : Math.exp((4 * uniformLevel(t, 'EDM scheduler model')) / sched.config.noise_label_scale);
      const sd = sched.config.sigma_data as number,
        pt = sched.config.prediction_type as EdmPredictionType;
      const x = xin.mulScalar(1 / edmPreconditioning(sigma, sd, pt).cIn);
      return edmOutputFromDenoised(await D(x, sigma, labels), x, sigma, sd, pt);
    };
  }
  const table = (sched as Scheduler & { alphasCumprod?: Float32Array }).alphasCumprod;
  if (!table) throw new Error(`${sched.className}: cannot drive this scheduler with a model (it has no noise table)`);
  // RePaintScheduler has no prediction_type key: it steps eps (as diffusers' RePaintScheduler does)
  const predictionType = (sched.config.prediction_type as string | undefined) ?? 'epsilon';
  if (f.kind === 'vp' && sameTable(f.alphasCumprod, table) && f.predictionType === predictionType) return fn;
  // VP-family schedulers: model(x_vp, t) on their own table, answering their prediction type
  return async (xvp, t, labels) => {
    const sigma = sigmaAtTimestep(table, uniformLevel(t, `${sched.className} model`));
    const x = xvp.mulScalar(Math.sqrt(1 + sigma * sigma));
    return denoisedToVpOutput(await D(x, sigma, labels), x, sigma, predictionType);
  };
}

/**
 * A consistency scheduler (diffusers' CMStochasticIterativeScheduler) calls model(c_in x, 250 ln(sigma)) and
 * applies c_skip / c_out itself: a consistency model of the same sigma_data / sigma_min is called as it is
 * (relabelled when its noise label scale differs), any other model answers (D - c_skip x) / c_out.
 */
function adaptToConsistencyScheduler(
  fn: AsyncModelFn,
  f: ModelFormulation,
  D: (x: NDArray, sigma: number, labels?: Float32Array) => Promise<NDArray>,
  sched: Scheduler,
): AsyncModelFn {
  const sd = sched.config.sigma_data as number,
    sMin = sched.config.sigma_min as number;
  const s = sched as Scheduler & { sigmas?: ArrayLike<number>; stepIndex?: number | null };
  const sigmaOf = (t: Float32Array) =>
    typeof s.stepIndex === 'number' && s.sigmas
      ? s.sigmas[s.stepIndex]
      : Math.exp(uniformLevel(t, `${sched.className} model`) / (CM_TIMESTEP_LABEL_SCALE / 4));
  if (f.kind === 'consistency' && f.sigmaData === sd && f.sigmaMin === sMin) {
    if (f.noiseLabelScale === CM_TIMESTEP_LABEL_SCALE) return fn;
    return async (xin, t, labels) =>
      fn(xin, new Float32Array(t.length).fill((f.noiseLabelScale * Math.log(sigmaOf(t))) / 4), labels);
  }
  return async (xin, t, labels) => {
    const sigma = sigmaOf(t);
    const { cSkip, cOut, cIn } = consistencyPreconditioning(Math.max(sigma, sMin), sd, sMin);
    const x = xin.mulScalar(1 / cIn);
    const d = await D(x, sigma, labels);
    return cOut === 0 ? d.map(() => 0) : d.map((v, i) => (v - cSkip * x.data[i]) / cOut);
  };
}

/** Options of generateScoreSde. */
export interface ScoreSdeGenerateOptions {
  shape: readonly number[];
  steps: number;
  generator: RandomGenerator;
  classLabels?: ArrayLike<number>;
  initialNoise?: NDArray;
  onStep?: (info: { index: number; timestep: number; sample: NDArray }) => void;
}

/**
 * diffusers' ScoreSdeVePipeline loop: x = sigma_max z; for each t: correct_steps Langevin corrections, then the
 * reverse-diffusion predictor; returns the last predictor mean. `model(x, sigma)` answers the score
 * (adaptModelToScheduler gives it for any trained model).
 * @example const x = await generateScoreSde(adaptModelToScheduler(fn, cfg, sched), sched, { shape: [64, 2], steps: 500, generator });
 */
export async function generateScoreSde(
  model: AsyncModelFn,
  sched: ScoreSdeVeScheduler,
  o: ScoreSdeGenerateOptions,
): Promise<NDArray> {
  sched.setTimesteps(o.steps);
  const B = o.shape[0];
  let x = (o.initialNoise ? o.initialNoise.clone() : o.generator.normal(o.shape)).mulScalar(sched.initNoiseSigma);
  let mean = x;
  const labels = o.classLabels ? Float32Array.from(o.classLabels) : undefined;
  for (let i = 0; i < sched.timesteps.length; i++) {
    const t = sched.timesteps[i];
    const sigma = new Float32Array(B).fill(sched.sigmas[i]);
    for (let k = 0; k < sched.config.correct_steps; k++)
      x = sched.stepCorrect(await model(x, sigma, labels), x, { generator: o.generator }).prevSample;
    const out = sched.stepPred(await model(x, sigma, labels), t, x, { generator: o.generator });
    x = out.prevSample;
    mean = out.prevSampleMean;
    o.onStep?.({ index: i, timestep: t, sample: mean });
  }
  return mean;
}

/**
 * Config keys a sampler of class `cls` needs from a model of another formulation: the noise range of a VP model's
 * beta table (sigma_min / sigma_max = the table's smallest and largest sigma) for the EDM and score-SDE classes,
 * which have no beta table. Empty when the formulations agree.
 * @example samplerRangeFor('EDMDPMSolverMultistepScheduler', ddpmConfig)  // { sigma_min: 0.0100..., sigma_max: 157.4... }
 */
export function samplerRangeFor(cls: string, trainingConfig: Record<string, unknown>): Record<string, unknown> {
  const f = modelFormulation(trainingConfig);
  const needsRange =
    EDM_SCHEDULER_CLASSES.includes(cls) || CONSISTENCY_SCHEDULER_CLASSES.includes(cls) || cls === 'ScoreSdeVeScheduler';
  if (!needsRange) return {};
  if (f.kind !== 'vp') return cls === 'ScoreSdeVeScheduler' ? { sigma_min: f.sigmaMin, sigma_max: f.sigmaMax } : {};
  const s = sigmasFromAlphasCumprod(f.alphasCumprod);
  return { sigma_min: s[0], sigma_max: s[s.length - 1] };
}

/**
 * The beta table a VP-family scheduler (DDPM, DDIM, RePaint, DDIM inversion, DPM-Solver, Euler, ...) uses to drive
 * a model trained with another formulation (EDM, consistency), which has no beta table of its own: diffusers'
 * default table (1000 linear betas 1e-4 .. 0.02, epsilon output), whose noise levels sigma = 0.01 .. 157 cover EDM's
 * training range 0.002 .. 80. It is what `DDIMScheduler.from_config(edm_config)` builds in diffusers, written out so
 * that the choice is deliberate; `adaptModelToScheduler` converts the model's D(x; sigma) to eps on this table.
 */
export const VP_TABLE_FOR_NON_VP_MODELS: Readonly<Record<string, unknown>> = Object.freeze({
  num_train_timesteps: 1000,
  beta_schedule: 'linear',
  beta_start: 0.0001,
  beta_end: 0.02,
  prediction_type: 'epsilon',
});

/** True for scheduler classes of the VP family (every class with a beta table: not EDM, consistency or score-SDE). */
export function isVpSchedulerClass(cls: string): boolean {
  return (
    !EDM_SCHEDULER_CLASSES.includes(cls) &&
    !CONSISTENCY_SCHEDULER_CLASSES.includes(cls) &&
    cls !== 'ScoreSdeVeScheduler'
  );
}

/**
 * The config a VP-family scheduler is built from for a model of this training config: the config itself for a VP
 * model, else `VP_TABLE_FOR_NON_VP_MODELS` (with the folder's clip_sample, if it records one).
 * @example vpSchedulerConfig(edmFolder.schedulerConfig).beta_schedule  // 'linear'
 */
export function vpSchedulerConfig(trainingConfig: Record<string, unknown>): Record<string, unknown> {
  if (modelFormulation(trainingConfig).kind === 'vp') return trainingConfig;
  const clip = trainingConfig.clip_sample;
  return { ...VP_TABLE_FOR_NON_VP_MODELS, ...(typeof clip === 'boolean' ? { clip_sample: clip } : {}) };
}
