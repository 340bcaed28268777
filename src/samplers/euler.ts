/**
 * EulerDiscreteScheduler: Euler's method on the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma
 * (Karras et al. 2022, "EDM", Algorithm 2 with optional churn), with diffusers' config keys and numerics.
 *
 *   sigma_hat = sigma (1 + gamma), gamma = min(s_churn / N, sqrt(2) - 1) if s_tmin <= sigma <= s_tmax else 0
 *   x_hat = x + sqrt(sigma_hat^2 - sigma^2) s_noise z              (only when gamma > 0)
 *   d = (x_hat - D) / sigma_hat,  x_next = x_hat + (sigma_next - sigma_hat) d
 *
 * @example
 *   const s = EulerDiscreteScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, use_karras_sigmas: true });
 *   s.setTimesteps(25);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import { getVelocity as vpVelocity } from '../diffusion/forward.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  SIGMA_GRID_KEYS,
  timestepsArg,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import {
  eulerStep,
  kPredOriginal,
  odeDerivative,
  SigmaScheduler,
  sigmaScheduleFromConfig,
  withFinalSigma,
} from './sigma_scheduler.ts';
import { logSigmas, sigmaToT } from '../schedules/sigmas.ts';
import { drawNoise, trainingSigmaMin } from './step_utils.ts';
import { churnAt } from './churn.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' EulerDiscreteScheduler (see the file comment). @example EulerDiscreteScheduler.fromConfig({ use_karras_sigmas: true }).setTimesteps(25) */
export class EulerDiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'EulerDiscreteScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    prediction_type: COMMON_KEYS.prediction_type,
    interpolation_type: enumKey('linear', ['linear', 'log_linear']),
    ...SIGMA_GRID_KEYS,
    sigma_min: key('number', null, { nullable: true, min: 0 }),
    sigma_max: key('number', null, { nullable: true, min: 0 }),
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    timestep_type: enumKey('discrete', ['discrete', 'continuous']),
    steps_offset: COMMON_KEYS.steps_offset,
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
    final_sigmas_type: enumKey('zero', ['zero', 'sigma_min']),
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof EulerDiscreteScheduler.configSpec>;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const train = this.trainSigmas();
    const T = this.config.num_train_timesteps;
    const desc = Float32Array.from(train).reverse();
    this.sigmas = withFinalSigma(desc, 0);
    if (this.config.timestep_type === 'continuous' && this.config.prediction_type === 'v_prediction') {
      // t = log(sigma) / 4 (EDM's c_noise)
      this.timesteps = Float64Array.from(desc, (s) => f32(0.25 * f32(Math.log(s))));
    } else {
      this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
    }
  }

  /**
   * `setTimesteps(n)`, `setTimesteps({ timesteps })` (custom, descending) or `setTimesteps({ sigmas })`
   * (custom, including the final sigma).
   * @example s.setTimesteps(30); s.setTimesteps({ sigmas: [14.6, 7, 3, 1, 0.3, 0] });
   */
  override setTimesteps(arg: number | SetTimestepsOptions): void {
    const { numInferenceSteps, timesteps, sigmas } = timestepsArg(arg);
    const owner = `${this.className}.setTimesteps`;
    const c = this.config;
    if (timesteps !== undefined && sigmas !== undefined)
      throw new Error(`${owner}: pass only one of timesteps or sigmas`);
    if (numInferenceSteps === undefined && timesteps === undefined && sigmas === undefined)
      throw new Error(`${owner}: pass exactly one of numInferenceSteps, timesteps or sigmas`);
    if (numInferenceSteps !== undefined && (timesteps !== undefined || sigmas !== undefined))
      throw new Error(`${owner}: pass only one of numInferenceSteps, timesteps or sigmas`);
    const kind = sigmaScheduleFromConfig(c, this.className);
    if (timesteps !== undefined && kind !== 'default')
      throw new Error(`${owner}: custom timesteps cannot be combined with use_${kind}_sigmas = true`);
    if (timesteps !== undefined && c.timestep_type === 'continuous' && c.prediction_type === 'v_prediction') {
      throw new Error(
        `${owner}: custom timesteps cannot be used with timestep_type = 'continuous' and prediction_type = 'v_prediction'`,
      );
    }
    const n = numInferenceSteps ?? (timesteps !== undefined ? timesteps.length : sigmas!.length - 1);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${owner}: num_inference_steps = ${n} must be a positive integer`);
    this.numInferenceSteps = n;

    let ts: Float64Array;
    let sig: Float32Array;
    if (sigmas !== undefined) {
      const s32 = Float32Array.from(sigmas);
      const ls = logSigmas(this.trainSigmas());
      ts = Float64Array.from(s32.subarray(0, s32.length - 1), (s) => f32(sigmaToT(s, ls)));
      sig = s32;
    } else {
      const r = this.sigmaGrid(n, {
        sigmaMin: c.sigma_min,
        sigmaMax: c.sigma_max,
        interpolation: c.interpolation_type,
        customTimesteps: timesteps,
      });
      const last = c.final_sigmas_type === 'sigma_min' ? trainingSigmaMin(this.alphasCumprod) : 0;
      ts = r.timesteps;
      sig = withFinalSigma(r.sigmas, last);
    }
    if (c.timestep_type === 'continuous' && c.prediction_type === 'v_prediction') {
      // t = log(sigma) / 4 (EDM's c_noise)
      ts = Float64Array.from(sig.subarray(0, sig.length - 1), (s) => f32(0.25 * f32(Math.log(s))));
    }
    this.timesteps = ts;
    this.sigmas = sig;
    this.resetStepIndex();
  }

  /**
   * One Euler step (EDM Algorithm 2). Options: sChurn (0), sTmin (0), sTmax (inf), sNoise (1), and a
   * `generator` when churn adds noise.
   * @example s.step(eps, t, x, { sChurn: 0.5, generator })
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    this.warnIfInputNotScaled();
    const i = this.beginStep(timestep);
    const sigma = this.sigmas[i];
    const { gamma, sigmaHat, noiseStd } = churnAt(sigma, this.sigmas.length - 1, opts, f32);
    let x = sample;
    if (gamma > 0) {
      const z = drawNoise(modelOutput.shape, opts, this.className).data,
        sn = f32(opts.sNoise ?? 1);
      const xHat = new NDArray(sample.shape),
        o = xHat.data,
        xs = sample.data;
      // x_hat = x + sqrt(sigma_hat^2 - sigma^2) S_noise z   (EDM Algorithm 2 line 6, diffusers' order)
      for (let j = 0; j < o.length; j++) o[j] = xs[j] + f32(f32(z[j] * sn) * noiseStd);
      x = xHat;
    }
    // 1. x_0 (epsilon uses sigma_hat, v_prediction uses sigma, as diffusers)
    let x0: NDArray;
    if (this.config.prediction_type === 'epsilon')
      x0 = kPredOriginal(modelOutput, x, sigmaHat, 'epsilon', this.className);
    else x0 = kPredOriginal(modelOutput, x, sigma, this.config.prediction_type, this.className);
    // 2. ODE derivative d = (x - x_0) / sigma_hat, 3. Euler step
    const dt = f32(this.sigmas[i + 1] - sigmaHat); // dt = sigma_next - sigma_hat
    // x_next = x_hat + (x_hat - x_0) / sigma_hat * (sigma_next - sigma_hat)
    const prev = eulerStep(x, odeDerivative(x, x0, sigmaHat), dt);
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** The v-prediction target at schedule timesteps (VP frame, uses alphasCumprod). @example s.getVelocity(x0, noise, [s.timesteps[3]]) */
  getVelocity(sample: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
    const idx = ts.map((t) => this.indexForTimestep(t));
    return vpVelocity(sample, noise, this.alphasCumprod, idx);
  }
}

registerScheduler(EulerDiscreteScheduler);
