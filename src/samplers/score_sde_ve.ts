/**
 * ScoreSdeVeScheduler (diffusers): the variance-exploding SDE of Song et al. 2021 ("Score-Based Generative
 * Modeling through Stochastic Differential Equations", eq. 9 / 30), sampled with the predictor-corrector scheme
 * of Algorithm 2 (VE): a reverse-diffusion predictor and Langevin correctors with the signal-to-noise step rule.
 * The model output is the score s(x, sigma) = grad_x log p_sigma(x) (for a denoiser D: (D - x) / sigma^2).
 *
 *   sigma(t) = sigma_min (sigma_max / sigma_min)^t,   t from 1 down to sampling_eps
 *   predictor (stepPred): x_mean = x + (sigma_i^2 - sigma_{i-1}^2) s,  x = x_mean + sqrt(sigma_i^2 - sigma_{i-1}^2) z
 *   corrector (stepCorrect): eps = 2 (snr ||z|| / ||s||)^2,  x = x + eps s + sqrt(2 eps) z
 *
 * Config keys and float32 numerics follow diffusers' scheduling_sde_ve.py (norms are per batch row, averaged
 * over the batch). One deliberate difference: `setTimesteps(n)` also calls `setSigmas(n)` (diffusers needs both
 * calls, and a lone set_timesteps leaves the sigma tables of another step count).
 *
 * @example
 *   const s = ScoreSdeVeScheduler.fromConfig({ sigma_max: 50 });
 *   s.setTimesteps(500);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   s.timesteps.forEach((t, i) => {
 *     for (let k = 0; k < s.config.correct_steps; k++) x = s.stepCorrect(score(x, s.sigmas[i]), x, { generator }).prevSample;
 *     x = s.stepPred(score(x, s.sigmas[i]), t, x, { generator }).prevSample;
 *   });
 */
import type { NDArray } from '../engine/ndarray.ts';
import { torchLinspaceF32 } from '../schedules/numerics.ts';
import {
  key,
  registerScheduler,
  Scheduler,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { drawNoise } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** Result of the predictor step: the sample and its noise-free mean (diffusers' SdeVeOutput). */
export interface SdeVeStepOutput extends StepOutput {
  prevSampleMean: NDArray;
}

/** Mean over batch rows of the per-row L2 norm (torch.norm(x.reshape(B, -1), dim=-1).mean()), float32. */
function meanRowNorm(x: NDArray): number {
  const B = x.shape[0],
    per = x.size / B;
  let acc = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = b * per; i < (b + 1) * per; i++) s += x.data[i] * x.data[i];
    acc += f32(Math.sqrt(s));
  }
  return f32(acc / B);
}

/** diffusers' ScoreSdeVeScheduler (see the file comment). @example ScoreSdeVeScheduler.fromConfig({ snr: 0.16 }) */
export class ScoreSdeVeScheduler extends Scheduler {
  static override readonly className = 'ScoreSdeVeScheduler';
  static override readonly configSpec = {
    num_train_timesteps: key('int', 2000, { min: 1 }),
    snr: key('number', 0.15, { min: 0, help: 'signal-to-noise ratio of the Langevin corrector step' }),
    sigma_min: key('number', 0.01, { min: 0 }),
    sigma_max: key('number', 1348.0, { min: 0 }),
    sampling_eps: key('number', 1e-5, { min: 0, max: 1, help: 'last time of the continuous schedule' }),
    correct_steps: key('int', 1, { min: 0, help: 'Langevin corrector steps per predictor step' }),
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof ScoreSdeVeScheduler.configSpec>;

  /** sigma(t) at each timestep (float32). */
  sigmas: Float32Array = new Float32Array(0);
  /** exp(linspace(log sigma_min, log sigma_max, n)), ascending: the predictor's table (float32). */
  discreteSigmas: Float32Array = new Float32Array(0);

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const c = this.config;
    if (!(c.sigma_min > 0 && c.sigma_max > c.sigma_min))
      throw new Error(
        `${this.className} config: sigma_min = ${c.sigma_min}, sigma_max = ${c.sigma_max}; need 0 < sigma_min < sigma_max`,
      );
    if (!(c.sampling_eps > 0))
      throw new Error(`${this.className} config: sampling_eps = ${c.sampling_eps} must be > 0`);
    this.setTimesteps(c.num_train_timesteps);
    this.numInferenceSteps = null;
  }

  /** sigma_max (diffusers). */
  override get initNoiseSigma(): number {
    return this.config.sigma_max;
  }

  /**
   * Continuous timesteps linspace(1, sampling_eps, n) (float32) and the sigma tables for n steps.
   * @example s.setTimesteps(1000)
   */
  setTimesteps(arg: number | SetTimestepsOptions, samplingEps?: number): void {
    const n = this.stepCountOnly(arg, true);
    this.numInferenceSteps = n;
    this.timesteps = Float64Array.from(torchLinspaceF32(1, samplingEps ?? this.config.sampling_eps, n));
    this.setSigmas(n);
  }

  /**
   * diffusers' set_sigmas: sigma(t) = sigma_min (sigma_max / sigma_min)^t at the current timesteps and the
   * log-spaced predictor table of n values.
   */
  setSigmas(n: number, sigmaMin?: number, sigmaMax?: number): void {
    const lo = sigmaMin ?? this.config.sigma_min,
      hi = sigmaMax ?? this.config.sigma_max;
    this.discreteSigmas = Float32Array.from(torchLinspaceF32(Math.log(lo), Math.log(hi), n), (v) => Math.exp(v));
    const ratio = f32(hi / lo);
    this.sigmas = Float32Array.from(this.timesteps, (t) => f32(f32(lo) * f32(ratio ** t)));
  }

  /** No input scaling (the score model takes x itself). */
  override scaleModelInput(sample: NDArray): NDArray {
    return sample;
  }

  /** Index into discreteSigmas of continuous time t: trunc(t (n - 1)) in float32 (diffusers' `.long()`). */
  discreteIndex(t: number): number {
    const n = this.timesteps.length;
    return Math.trunc(f32(f32(t) * (n - 1)));
  }

  /**
   * The reverse-diffusion predictor (Song et al. 2021, eq. 47 / Algorithm 2 lines 3-5).
   * @example const { prevSample, prevSampleMean } = s.stepPred(score, t, x, { generator });
   */
  stepPred(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): SdeVeStepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before stepPred()`);
    const idx = this.discreteIndex(timestep);
    if (!(idx >= 0 && idx < this.discreteSigmas.length))
      throw new Error(`${this.className}.stepPred: timestep ${timestep} is outside [0, 1]`);
    const sigma = this.discreteSigmas[idx];
    const adj = idx === 0 ? 0 : this.discreteSigmas[idx - 1];
    const diffusion = f32(Math.sqrt(f32(f32(sigma * sigma) - f32(adj * adj))));
    const g2 = f32(diffusion * diffusion);
    const noise = drawNoise(sample.shape, opts, this.className);
    // drift = 0 - g^2 s;  x_mean = x - drift;  x = x_mean + g z
    const mean = sample.map((v, i) => f32(v - f32(0 - f32(g2 * modelOutput.data[i]))));
    const prev = mean.map((v, i) => f32(v + f32(diffusion * noise.data[i])));
    return { prevSample: prev, prevSampleMean: mean };
  }

  /**
   * One Langevin corrector step with the signal-to-noise step rule (Song et al. 2021, Algorithm 4).
   * @example x = s.stepCorrect(score, x, { generator }).prevSample;
   */
  stepCorrect(modelOutput: NDArray, sample: NDArray, opts: StepOptions = {}): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before stepCorrect()`);
    const noise = drawNoise(sample.shape, opts, this.className);
    const gradNorm = meanRowNorm(modelOutput),
      noiseNorm = meanRowNorm(noise);
    const r = f32(f32(f32(this.config.snr) * noiseNorm) / gradNorm);
    const eps = f32(f32(r * r) * 2);
    const k = f32(Math.sqrt(f32(eps * 2)));
    const prev = sample.map((v, i) => f32(f32(v + f32(eps * modelOutput.data[i])) + f32(k * noise.data[i])));
    return { prevSample: prev };
  }

  /** The predictor step (the corrector needs its own model call: see `stepCorrect` and generateScoreSde). */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    return this.stepPred(modelOutput, timestep, sample, opts);
  }

  /** x0 + discrete_sigmas[t] noise, t = integer indices into the predictor table (diffusers' add_noise). */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    const B = originalSamples.shape[0];
    if (ts.length !== 1 && ts.length !== B)
      throw new Error(`${this.className}.addNoise: got ${ts.length} timesteps for a batch of ${B}`);
    const per = originalSamples.size / (ts.length === 1 ? 1 : B);
    return originalSamples.map((v, i) => {
      const t = ts.length === 1 ? ts[0] : ts[Math.floor(i / per)];
      if (!Number.isInteger(t) || t < 0 || t >= this.discreteSigmas.length)
        throw new Error(
          `${this.className}.addNoise: timestep ${t} must be an integer index in [0, ${this.discreteSigmas.length - 1}]`,
        );
      return f32(f32(noise.data[i] * this.discreteSigmas[t]) + v);
    });
  }
}

registerScheduler(ScoreSdeVeScheduler);
