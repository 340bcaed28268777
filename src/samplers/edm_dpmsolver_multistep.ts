/**
 * EDMDPMSolverMultistepScheduler (diffusers): DPM-Solver++ (Lu et al. 2022, "DPM-Solver++", Algorithm 2;
 * orders 1-3, midpoint / heun second-order variants) and SDE-DPM-Solver++ in the EDM frame, where
 * alpha_t = 1 and lambda = -ln(sigma): the data prediction x0 comes from the EDM preconditioning
 * D = c_skip x + c_out F of an EDM-trained model. Config keys and float32 numerics follow diffusers'
 * scheduling_edm_dpmsolver_multistep.py (its Karras grid is computed on a float32 ramp).
 *
 *   order 1:  x_t = (sigma_t / sigma_s) x - (e^{-h} - 1) D0,   h = lambda_t - lambda_s
 *   order 2 (midpoint): ... - 0.5 (e^{-h} - 1) D1,  D1 = (D0 - D_prev) / r0,  r0 = h_prev / h
 *
 * @example
 *   const s = EDMDPMSolverMultistepScheduler.fromConfig({ solver_order: 2 });
 *   s.setTimesteps(10);
 *   let x = noise.mulScalar(s.initNoiseSigma);
 *   for (const t of s.timesteps) x = s.step(await F(s.scaleModelInput(x, t), t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { dynamicThreshold } from '../diffusion/thresholding.ts';
import {
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import { EDM_KEYS, EdmScheduler, edmSigmaGridF32 } from './edm_scheduler.ts';
import { drawNoise } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' EDMDPMSolverMultistepScheduler (see the file comment). @example EDMDPMSolverMultistepScheduler.fromConfig({ algorithm_type: 'sde-dpmsolver++' }) */
export class EDMDPMSolverMultistepScheduler extends EdmScheduler {
  static override readonly className = 'EDMDPMSolverMultistepScheduler';
  static override readonly configSpec = {
    ...EDM_KEYS,
    prediction_type: enumKey('epsilon', ['epsilon', 'sample', 'v_prediction']),
    solver_order: key('int', 2, { min: 1, max: 3 }),
    thresholding: COMMON_KEYS.thresholding,
    dynamic_thresholding_ratio: COMMON_KEYS.dynamic_thresholding_ratio,
    sample_max_value: COMMON_KEYS.sample_max_value,
    algorithm_type: enumKey('dpmsolver++', ['dpmsolver++', 'sde-dpmsolver++', 'deis']),
    solver_type: enumKey('midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
    lower_order_final: key('bool', true),
    euler_at_final: key('bool', false),
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof EDMDPMSolverMultistepScheduler.configSpec>;

  private modelOutputs: (NDArray | null)[] = [];
  private lowerOrderNums = 0;
  /** The algorithm and solver type in use (diffusers rewrites 'deis' -> 'dpmsolver++', logrho/bh1/bh2 -> 'midpoint'). */
  readonly algorithmType: 'dpmsolver++' | 'sde-dpmsolver++';
  readonly solverType: 'midpoint' | 'heun';

  constructor(config: SchedulerConfig = {}) {
    // diffusers rewrites algorithm_type 'deis' -> 'dpmsolver++' and solver_type logrho/bh1/bh2 -> 'midpoint'
    // in the registered config (configs of other multistep schedulers load unchanged)
    super(
      config && typeof config === 'object' && !Array.isArray(config)
        ? {
            ...config,
            ...(config.algorithm_type === 'deis' ? { algorithm_type: 'dpmsolver++' } : {}),
            ...(['logrho', 'bh1', 'bh2'].includes(config.solver_type as string) ? { solver_type: 'midpoint' } : {}),
          }
        : config,
    );
    const c = this.config;
    // ('deis', 'logrho', 'bh1', 'bh2' were mapped above; what is left is one of the two)
    this.algorithmType = c.algorithm_type === 'sde-dpmsolver++' ? 'sde-dpmsolver++' : 'dpmsolver++';
    this.solverType = c.solver_type === 'heun' ? 'heun' : 'midpoint';
    if (this.algorithmType === 'sde-dpmsolver++' && c.solver_order === 3) {
      throw new Error(
        `${this.className} config: solver_order = 3 is not available with algorithm_type 'sde-dpmsolver++' (diffusers has no third-order SDE update); use solver_order 1 or 2`,
      );
    }
    if (c.prediction_type === 'sample') {
      throw new Error(
        `${this.className} config: prediction_type = 'sample' is not supported (diffusers' precondition_outputs raises); allowed values: 'epsilon', 'v_prediction'`,
      );
    }
    const T = c.num_train_timesteps;
    this.installGrid(this.gridSigmas(T));
    this.sigmas[this.sigmas.length - 1] = 0;
    this.modelOutputs = new Array(c.solver_order).fill(null);
  }

  protected gridSigmas(n: number): Float32Array {
    return edmSigmaGridF32(
      n,
      this.config.sigma_min,
      this.config.sigma_max,
      this.config.rho,
      this.config.sigma_schedule,
    );
  }

  protected override finalSigma(): number {
    return this.config.final_sigmas_type === 'sigma_min' ? f32(this.config.sigma_min) : 0;
  }

  /** The last grid position when t is not in the schedule (diffusers). */
  protected override timestepNotFound(): number {
    return this.timesteps.length - 1;
  }

  /** `setTimesteps(n)`. @example s.setTimesteps(10) */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const n = this.stepCountOnly(arg, true);
    this.numInferenceSteps = n;
    this.installGrid(this.gridSigmas(n));
    this.modelOutputs = new Array(this.config.solver_order).fill(null);
    this.lowerOrderNums = 0;
  }

  /** x0 = D(x; sigma) from the model output (with optional dynamic thresholding). */
  convertModelOutput(modelOutput: NDArray, sample: NDArray): NDArray {
    let x0 = this.preconditionOutputs(sample, modelOutput, this.sigmas[this.stepIdx!]);
    if (this.config.thresholding)
      x0 = dynamicThreshold(x0, this.config.dynamic_thresholding_ratio, this.config.sample_max_value);
    return x0;
  }

  /**
   * One multistep update. SDE-DPM-Solver++ draws one normal per step from `opts.generator`.
   * @example const { prevSample } = s.step(F, t, x, { generator });
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts: StepOptions = {}): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before step()`);
    if (this.stepIdx === null) this.initStepIndex(timestep);
    const i = this.stepIdx!;
    const n = this.timesteps.length;
    if (i >= n)
      throw new Error(`${this.className}.step: the schedule is finished (step ${i} of ${n}); call setTimesteps again`);
    const c = this.config;
    const lowerOrderFinal =
      i === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === n - 2 && c.lower_order_final && n < 15;
    const x0 = this.convertModelOutput(modelOutput, sample);
    const order = c.solver_order;
    for (let k = 0; k < order - 1; k++) this.modelOutputs[k] = this.modelOutputs[k + 1];
    this.modelOutputs[order - 1] = x0;
    const noise = this.algorithmType === 'sde-dpmsolver++' ? drawNoise(x0.shape, opts, this.className) : null;
    let prev: NDArray;
    if (order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) prev = this.firstOrder(x0, sample, noise);
    else if (order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) prev = this.secondOrder(sample, noise);
    else prev = this.thirdOrder(sample);
    if (this.lowerOrderNums < order) this.lowerOrderNums += 1;
    this.stepIdx = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /** lambda = log(alpha) - log(sigma) with alpha = 1 (float32; +inf at sigma = 0). */
  private lambda(k: number): number {
    return f32(0 - f32(Math.log(this.sigmas[k])));
  }

  private firstOrder(m: NDArray, x: NDArray, noise: NDArray | null): NDArray {
    const i = this.stepIdx!;
    const st = this.sigmas[i + 1],
      ss = this.sigmas[i];
    const h = f32(this.lambda(i + 1) - this.lambda(i));
    if (this.algorithmType === 'dpmsolver++') {
      const a = f32(st / ss),
        e = f32(f32(Math.exp(-h)) - 1);
      return x.map((v, j) => f32(f32(a * v) - f32(e * m.data[j])));
    }
    const em2h = f32(Math.exp(f32(-2 * h)));
    const c1 = f32(f32(st / ss) * f32(Math.exp(-h))),
      c2 = f32(1 - em2h),
      c3 = f32(st * f32(Math.sqrt(f32(1 - em2h))));
    return x.map((v, j) => f32(f32(f32(c1 * v) + f32(c2 * m.data[j])) + f32(c3 * noise!.data[j])));
  }

  private secondOrder(x: NDArray, noise: NDArray | null): NDArray {
    const i = this.stepIdx!;
    const L = this.modelOutputs.length;
    const m0 = this.modelOutputs[L - 1]!,
      m1 = this.modelOutputs[L - 2]!;
    const st = this.sigmas[i + 1],
      s0 = this.sigmas[i];
    const lt = this.lambda(i + 1),
      l0 = this.lambda(i),
      l1 = this.lambda(i - 1);
    const h = f32(lt - l0),
      h0 = f32(l0 - l1);
    const r0 = f32(h0 / h);
    const inv = f32(1 / r0);
    const D1 = m0.map((v, j) => f32(inv * f32(v - m1.data[j])));
    if (this.algorithmType === 'dpmsolver++') {
      const a = f32(st / s0),
        e = f32(f32(Math.exp(-h)) - 1);
      const k = this.solverType === 'midpoint' ? f32(0.5 * e) : f32(f32(e / h) + 1);
      if (this.solverType === 'midpoint')
        return x.map((v, j) => f32(f32(f32(a * v) - f32(e * m0.data[j])) - f32(k * D1.data[j])));
      return x.map((v, j) => f32(f32(f32(a * v) - f32(e * m0.data[j])) + f32(k * D1.data[j])));
    }
    const em2h = f32(Math.exp(f32(-2 * h)));
    const c1 = f32(f32(st / s0) * f32(Math.exp(-h))),
      c2 = f32(1 - em2h),
      c3 = f32(st * f32(Math.sqrt(f32(1 - em2h))));
    const k = this.solverType === 'midpoint' ? f32(0.5 * c2) : f32(f32(c2 / f32(-2 * h)) + 1);
    return x.map((v, j) =>
      f32(f32(f32(f32(c1 * v) + f32(c2 * m0.data[j])) + f32(k * D1.data[j])) + f32(c3 * noise!.data[j])),
    );
  }

  private thirdOrder(x: NDArray): NDArray {
    const i = this.stepIdx!;
    const L = this.modelOutputs.length;
    const m0 = this.modelOutputs[L - 1]!,
      m1 = this.modelOutputs[L - 2]!,
      m2 = this.modelOutputs[L - 3]!;
    const st = this.sigmas[i + 1],
      s0 = this.sigmas[i];
    const lt = this.lambda(i + 1),
      l0 = this.lambda(i),
      l1 = this.lambda(i - 1),
      l2 = this.lambda(i - 2);
    const h = f32(lt - l0),
      h0 = f32(l0 - l1),
      h1 = f32(l1 - l2);
    const r0 = f32(h0 / h),
      r1 = f32(h1 / h);
    const i0 = f32(1 / r0),
      i1 = f32(1 / r1),
      q = f32(r0 / f32(r0 + r1)),
      iq = f32(1 / f32(r0 + r1));
    const a = f32(st / s0),
      e = f32(f32(Math.exp(-h)) - 1);
    const k1 = f32(f32(e / h) + 1),
      k2 = f32(f32(f32(f32(e + h)) / f32(h * h)) - 0.5);
    return x.map((v, j) => {
      const d10 = f32(i0 * f32(m0.data[j] - m1.data[j])),
        d11 = f32(i1 * f32(m1.data[j] - m2.data[j]));
      const dd = f32(d10 - d11);
      const D1 = f32(d10 + f32(q * dd)),
        D2 = f32(iq * dd);
      return f32(f32(f32(f32(a * v) - f32(e * m0.data[j])) + f32(k1 * D1)) - f32(k2 * D2));
    });
  }
}

registerScheduler(EDMDPMSolverMultistepScheduler);
