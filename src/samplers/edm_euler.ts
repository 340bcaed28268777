/**
 * EDMEulerScheduler (diffusers): Euler's method on the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma
 * with the EDM preconditioning (Karras et al. 2022, Algorithm 2 with churn and one model call per step), for
 * models trained in the EDM formulation (`diffuse train --objective edm`). Config keys, grid and float32
 * numerics follow diffusers' scheduling_edm_euler.py:
 *
 *   sigma_hat = sigma (1 + gamma), gamma = min(s_churn / N, sqrt(2) - 1) if s_tmin <= sigma <= s_tmax else 0
 *   x_hat = x + sqrt(sigma_hat^2 - sigma^2) s_noise z                    (only when gamma > 0)
 *   D = c_skip(sigma_hat) x_hat + c_out(sigma_hat) F,  x_next = x_hat + (sigma_next - sigma_hat) (x_hat - D) / sigma_hat
 *
 * (The model input is scaled with the grid sigma, not sigma_hat, as in diffusers. For the second-order EDM
 * sampler, Algorithm 2 with Heun's correction, use `sampleEdm`.)
 *
 * @example
 *   const s = EDMEulerScheduler.fromConfig({ sigma_data: 0.5 });
 *   s.setTimesteps(30);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await F(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import {
  enumKey,
  registerScheduler,
  type ConfigOf,
  type ConfigSpec,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { EDM_KEYS, EdmScheduler, edmSigmaGridF64 } from './edm_scheduler.ts';
import { drawNoise } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' EDMEulerScheduler (see the file comment). @example EDMEulerScheduler.fromConfig({}).setTimesteps(18) */
export class EDMEulerScheduler extends EdmScheduler {
  static override readonly className = 'EDMEulerScheduler';
  static override readonly configSpec = {
    ...EDM_KEYS,
    prediction_type: enumKey('epsilon', ['epsilon', 'v_prediction']),
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof EDMEulerScheduler.configSpec>;

  constructor(config = {}) {
    super(config);
    const T = this.config.num_train_timesteps;
    // diffusers' initial grid: a ramp of T + 1 points
    const grid = edmSigmaGridF64(
      T + 1,
      this.config.sigma_min,
      this.config.sigma_max,
      this.config.rho,
      this.config.sigma_schedule,
    );
    this.installGrid(grid);
  }

  protected gridSigmas(n: number): Float32Array {
    return edmSigmaGridF64(
      n,
      this.config.sigma_min,
      this.config.sigma_max,
      this.config.rho,
      this.config.sigma_schedule,
    );
  }

  /** `setTimesteps(n)`: n Karras / exponential sigmas from sigma_max to sigma_min, then the final sigma. @example s.setTimesteps(18) */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const n = this.stepCountOnly(arg, true);
    this.numInferenceSteps = n;
    this.installGrid(this.gridSigmas(n));
  }

  /**
   * One Euler step (EDM Algorithm 2 without the Heun correction). Options: sChurn (0), sTmin (0), sTmax (inf),
   * sNoise (1), and a `generator` when churn adds noise.
   * @example s.step(F, t, x, { sChurn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003, generator })
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    if (this.numInferenceSteps === null && this.stepIdx === null && this.timesteps.length === 0)
      throw new Error(`${this.className}: call setTimesteps first`);
    this.warnIfInputNotScaled();
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const i = this.stepIdx!;
    if (i + 1 >= this.sigmas.length)
      throw new Error(
        `${this.className}.step: the schedule is finished (step ${i} of ${this.timesteps.length}); call setTimesteps again`,
      );
    const sChurn = opts.sChurn ?? 0,
      sTmin = opts.sTmin ?? 0,
      sTmax = opts.sTmax ?? Infinity,
      sNoise = opts.sNoise ?? 1;
    const sigma = this.sigmas[i];
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (this.sigmas.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f32(sigma * f32(gamma + 1));
    let x = sample;
    if (gamma > 0) {
      const noise = drawNoise(modelOutput.shape, opts, this.className);
      const k = f32(Math.sqrt(f32(f32(sigmaHat * sigmaHat) - f32(sigma * sigma))));
      const sn = f32(sNoise);
      x = sample.map((v, j) => f32(v + f32(f32(noise.data[j] * sn) * k)));
    }
    const x0 = this.preconditionOutputs(x, modelOutput, sigmaHat);
    const dt = f32(this.sigmas[i + 1] - sigmaHat);
    const prev = x.map((v, j) => f32(v + f32(f32(f32(v - x0.data[j]) / sigmaHat) * dt)));
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(EDMEulerScheduler);
