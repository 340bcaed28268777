/**
 * KDPM2DiscreteScheduler: the second-order DPM-Solver-2 step in k-diffusion's form (`sample_dpm_2`,
 * Karras et al. 2022 Algorithm 2 variant; Lu et al. 2022 DPM-Solver-2 with the midpoint in log-sigma),
 * with diffusers' config keys and numerics:
 *   sigma_mid = exp((log sigma + log sigma_next) / 2)
 *   x_mid = x + (sigma_mid - sigma) (x - D(x; sigma)) / sigma
 *   x_next = x + (sigma_next - sigma) (x_mid - D(x_mid; sigma_mid)) / sigma_mid
 * The model is called at the midpoint's (fractional) timestep, so `timesteps` interleaves t_mid and t.
 * The last step (sigma_next = 0) is an Euler step.
 *
 * @example
 *   const s = KDPM2DiscreteScheduler.fromConfig({ beta_schedule: 'scaled_linear' });
 *   s.setTimesteps(20);
 *   for (const t of s.timesteps) x = s.step(model(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import {
  betaTableKeys,
  COMMON_KEYS,
  key,
  registerScheduler,
  SIGMA_GRID_KEYS,
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
  repeatInner,
  SigmaScheduler,
  withFinalSigma,
} from './sigma_scheduler.ts';
import { sigmaToT } from '../schedules/sigmas.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' KDPM2DiscreteScheduler (see the file comment). @example KDPM2DiscreteScheduler.fromConfig({}).setTimesteps(20) */
export class KDPM2DiscreteScheduler extends SigmaScheduler {
  static override readonly className = 'KDPM2DiscreteScheduler';
  static override readonly configSpec = {
    ...betaTableKeys({ beta_start: key('number', 0.00085, { min: 0 }), beta_end: key('number', 0.012, { min: 0 }) }),
    ...SIGMA_GRID_KEYS,
    prediction_type: COMMON_KEYS.prediction_type,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof KDPM2DiscreteScheduler.configSpec>;

  override readonly order = 2;
  /** Log-sigma midpoints, laid out like `sigmas`. */
  sigmasInterpol: Float32Array = new Float32Array(0);
  private firstSample: NDArray | null = null;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.setTimesteps(this.config.num_train_timesteps);
  }

  /** True when the next step is the first (Euler-to-midpoint) half. */
  get stateInFirstOrder(): boolean {
    return this.firstSample === null;
  }

  /** `setTimesteps(n)`. @example s.setTimesteps(20) */
  override setTimesteps(arg: number | SetTimestepsOptions): void {
    const n = this.stepCountOnly(arg, true);
    this.numInferenceSteps = n;
    const r = this.sigmaGrid(n, { roundKarrasTimesteps: true });
    const sig = withFinalSigma(r.sigmas, 0); // n + 1 values
    // midpoints in log sigma: exp(lerp(log s_i, log s_{i-1}, 0.5)) (torch.lerp with weight 0.5)
    const interp = new Float32Array(sig.length);
    for (let i = 0; i < sig.length; i++) {
      // log s_i, log s_{i-1}, lerp = log s_{i-1} - (log s_{i-1} - log s_i) / 2
      const a = f32(Math.log(sig[i]));
      const b = f32(Math.log(sig[(i - 1 + sig.length) % sig.length]));
      const lerp = f32(b - f32(b - a) * 0.5);
      interp[i] = Math.exp(lerp);
    }
    // sigmas: [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0, 0, 0] (diffusers' layout), same for the midpoints
    const dup = (a: Float32Array) => Float32Array.from([...repeatInner(a), a[a.length - 1]]);
    this.sigmas = dup(sig);
    this.sigmasInterpol = dup(interp);
    // timesteps: [t0, t_mid1, t1, t_mid2, t2, ..., t_mid_{n-1}, t_{n-1}]
    const tMid = Float64Array.from(interp, (s) => sigmaToT(s, r.logSigmas, true));
    const ts: number[] = [r.timesteps[0]];
    for (let i = 1; i < n; i++) ts.push(f32(tMid[i]), r.timesteps[i]);
    this.timesteps = Float64Array.from(ts);
    this.firstSample = null;
    this.resetStepIndex();
  }

  protected override inputSigma(): number {
    return this.stateInFirstOrder ? this.sigmas[this.stepIdx!] : this.sigmasInterpol[this.stepIdx!];
  }

  /** One half of a DPM-Solver-2 step (by internal state). @example s.step(eps, t, x) */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(timestep);
    const first = this.stateInFirstOrder;
    const sigma = first ? this.sigmas[i] : this.sigmas[i - 1];
    const sigmaInterpol = first ? this.sigmasInterpol[i + 1] : this.sigmasInterpol[i];
    const sigmaNext = first ? this.sigmas[i + 1] : this.sigmas[i];
    const sigmaHat = sigma; // gamma = 0
    const sigmaInput = first ? sigmaHat : sigmaInterpol;
    const x0 = kPredOriginal(modelOutput, sample, sigmaInput, this.config.prediction_type, this.className, false);
    let derivative: NDArray, dt: number, base: NDArray;
    if (first) {
      // Euler to the log-midpoint
      derivative = odeDerivative(sample, x0, sigmaHat);
      dt = f32(sigmaInterpol - sigmaHat); // dt = sigma_mid - sigma
      this.firstSample = sample;
      base = sample;
    } else {
      // DPM-Solver-2: the full step with the midpoint derivative
      derivative = odeDerivative(sample, x0, sigmaInterpol);
      dt = f32(sigmaNext - sigmaHat); // dt = sigma_next - sigma
      base = this.firstSample!;
      this.firstSample = null;
    }
    this.stepIdx = i + 1;
    // x_next = x + d dt
    const prev = eulerStep(base, derivative, dt);
    return { prevSample: prev, predOriginalSample: x0 };
  }
}

registerScheduler(KDPM2DiscreteScheduler);
