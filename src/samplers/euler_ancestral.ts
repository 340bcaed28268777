/**
 * EulerAncestralDiscreteScheduler: Euler step to sigma_down followed by fresh noise of size sigma_up
 * (k-diffusion's `sample_euler_ancestral`; the ancestral split of Song et al. 2021 / Karras et al. 2022):
 *   sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2),  sigma_down = sqrt(sigma_next^2 - sigma_up^2),
 *   x_next = x + (sigma_down - sigma) (x - D) / sigma + sigma_up z.
 * diffusers' config keys and numerics; one `normal(shape)` draw per step (also on the last one).
 *
 * @example
 *   const s = EulerAncestralDiscreteScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
 *   s.setTimesteps(30);
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x, { generator }).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  registerScheduler,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { kPredOriginal, odeDerivative, SigmaScheduler, withFinalSigma } from './sigma_scheduler.ts';
import { drawNoise } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' EulerAncestralDiscreteScheduler (see the file comment). @example s.step(eps, t, x, { generator: new TorchGenerator(0) }) */
export class EulerAncestralDiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'EulerAncestralDiscreteScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    prediction_type: COMMON_KEYS.prediction_type,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof EulerAncestralDiscreteScheduler.configSpec>;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const desc = this.trainSigmas().reverse();
    this.sigmas = withFinalSigma(desc, 0);
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
  }

  /** One ancestral Euler step; needs `generator` (or `varianceNoise`). @example s.step(eps, t, x, { generator }) */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(timestep);
    const sigma = this.sigmas[i];
    // 1. x_0 ('sample' is not implemented in diffusers for this scheduler)
    const x0 = kPredOriginal(modelOutput, sample, sigma, this.config.prediction_type, this.className, false);
    // ancestral split of the step sigma -> sigma_next
    const sFrom = sigma,
      sTo = this.sigmas[i + 1];
    // sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2), sigma_down = sqrt(sigma_next^2 - sigma_up^2)
    const sTo2 = f32(sTo * sTo),
      sFrom2 = f32(sFrom * sFrom);
    const sigmaUp = f32(Math.sqrt(f32(f32(sTo2 * f32(sFrom2 - sTo2)) / sFrom2)));
    const sigmaDown = f32(Math.sqrt(f32(sTo2 - f32(sigmaUp * sigmaUp))));
    // 2. derivative, 3. Euler step to sigma_down, 4. noise
    const dt = f32(sigmaDown - sigma); // dt = sigma_down - sigma
    const noise = drawNoise(modelOutput.shape, opts, this.className);
    const d = odeDerivative(sample, x0, sigma).data,
      xs = sample.data,
      z = noise.data;
    const prev = new NDArray(sample.shape),
      o = prev.data;
    // x_next = (x + d (sigma_down - sigma)) + sigma_up z
    for (let j = 0; j < o.length; j++) o[j] = f32(xs[j] + f32(d[j] * dt)) + f32(z[j] * sigmaUp);
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(EulerAncestralDiscreteScheduler);
