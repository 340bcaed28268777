/**
 * UniPCMultistepScheduler: the unified predictor-corrector framework UniPC (Zhao et al. 2023, "UniPC: A
 * Unified Predictor-Corrector Framework for Fast Sampling of Diffusion Models", arXiv:2302.04867), with
 * diffusers' config keys and numerics.
 *
 * In lambda = log(alpha/sigma), with h = lambda_t - lambda_s and hh = -h for data prediction (predict_x0)
 * or +h for noise prediction, one step is
 *   UniP-p (the predictor of Zhao et al. 2023, Sec. 3):
 *     x_t = (sigma_t/sigma_s) x_s - alpha_t (e^{hh} - 1) m_s - alpha_t B(h) sum_k a_k D_k / r_k,
 *   UniC-p (the corrector): the same update recomputed once m_t = model(x_t) is known,
 *     adding the term a_p (m_t - m_s); it costs no extra model evaluation (it runs at the start of the next step).
 * Here D_k = m_{s_k} - m_s are differences to earlier outputs at r_k = (lambda_{s_k} - lambda_s)/h, and the
 * weights a solve the order conditions sum_k a_k r_k^{i-1} = i! phi_{i+1}(hh) / B(h) (Zhao et al. 2023, Sec. 3), with
 * B(h) = hh ('bh1') or e^{hh} - 1 ('bh2'). For p = 2 the predictor uses a = 1/2, and UniC-1 uses 1/2.
 *
 * @example
 *   const s = UniPCMultistepScheduler.fromConfig({ solver_order: 2, solver_type: 'bh2' });
 *   s.setTimesteps(10);
 *   let x = generator.normal([1, 3, 32, 32]);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import { predictionToEps, predictionToX0 } from '../diffusion/parameterization.ts';
import { appendFinalSigma } from '../schedules/sigmas.ts';
import {
  COMMON_KEYS,
  enumKey,
  key,
  registerScheduler,
  SIGMA_GRID_KEYS,
  typedKey,
  type ConfigOf,
  type ConfigSpec,
  type SchedulerConfig,
  type SetTimestepsOptions,
  type StepOptions,
  type StepOutput,
} from './scheduler.ts';
import {
  DPM_FAMILY_HEAD,
  DPM_FAMILY_KEYS,
  DPM_FLOW_KEYS,
  DPM_SHIFT_KEYS,
  ExponentialIntegratorScheduler,
} from './exponential_integrator.ts';
import { lincomb, trainingSigmaMin } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** solver_type values of UniPC: the two choices of B(h) (Zhao et al. 2023, Sec. 3.2). */
export const UNIPC_SOLVER_TYPES = ['bh1', 'bh2'] as const;

/**
 * Solve the small dense system A x = b in float32 the way LAPACK's sgesv does (torch.linalg.solve in
 * diffusers): LU with partial pivoting, the pivot column scaled by the reciprocal of the pivot, rank-1
 * updates, then forward (unit lower) and backward (upper) substitution, rounding every operation to float32.
 * UniPC's order-condition matrices become ill-conditioned for orders >= 3, so the float32 rounding of this
 * solve is visible in the samples; emulating it keeps us within float32 tolerance of diffusers.
 * @example solveLinearF32([[1, 1], [1, 2]], [3, 5])  // [1, 2]
 */
export function solveLinearF32(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row) => row.slice(0, n).map(f32));
  const x = b.map(f32);
  const piv: number[] = [];
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    piv.push(p);
    if (M[p][c] === 0 || !Number.isFinite(M[p][c])) throw new Error(`solveLinearF32: singular system (column ${c})`);
    if (p !== c) [M[c], M[p]] = [M[p], M[c]];
    const inv = f32(1 / M[c][c]);
    for (let r = c + 1; r < n; r++) M[r][c] = f32(M[r][c] * inv);
    for (let r = c + 1; r < n; r++) {
      for (let k = c + 1; k < n; k++) M[r][k] = f32(M[r][k] - f32(M[r][c] * M[c][k]));
    }
  }
  for (let c = 0; c < n; c++) if (piv[c] !== c) [x[c], x[piv[c]]] = [x[piv[c]], x[c]];
  for (let k = 0; k < n; k++) for (let r = k + 1; r < n; r++) x[r] = f32(x[r] - f32(x[k] * M[r][k]));
  for (let k = n - 1; k >= 0; k--) {
    x[k] = f32(x[k] / M[k][k]);
    for (let r = 0; r < k; r++) x[r] = f32(x[r] - f32(x[k] * M[r][k]));
  }
  return x;
}

/** Map sibling solver names to UniPC's (diffusers): solver_type 'midpoint' | 'heun' | 'logrho' -> 'bh2'. */
function mapUniPCNames(config: SchedulerConfig): SchedulerConfig {
  const out = { ...config };
  if (out.solver_type === 'midpoint' || out.solver_type === 'heun' || out.solver_type === 'logrho')
    out.solver_type = 'bh2';
  return out;
}

/** UniPC multistep predictor-corrector (diffusers' UniPCMultistepScheduler); deterministic (no generator). */
export class UniPCMultistepScheduler extends ExponentialIntegratorScheduler {
  static override readonly className: string = 'UniPCMultistepScheduler';
  static override readonly configSpec = {
    ...DPM_FAMILY_HEAD,
    solver_order: key('int', 2, {
      min: 1,
      help: 'any positive integer; the corrector raises the accuracy to solver_order + 1',
    }),
    predict_x0: key('bool', true),
    solver_type: enumKey('bh2', UNIPC_SOLVER_TYPES),
    lower_order_final: DPM_FAMILY_KEYS.lower_order_final,
    disable_corrector: key('numbers', [], { help: 'step indices whose corrector is skipped' }),
    solver_p: typedKey<null>(null, {
      nullable: true,
      help: 'another scheduler as predictor is not supported; allowed values: null',
    }),
    ...SIGMA_GRID_KEYS,
    ...DPM_FLOW_KEYS,
    timestep_spacing: COMMON_KEYS.timestep_spacing,
    steps_offset: COMMON_KEYS.steps_offset,
    final_sigmas_type: DPM_FAMILY_KEYS.final_sigmas_type,
    rescale_betas_zero_snr: COMMON_KEYS.rescale_betas_zero_snr,
    ...DPM_SHIFT_KEYS,
    sigma_min: key('number', null, {
      nullable: true,
      min: 0,
      help: 'lower end of Karras / exponential / beta grids; null = the training table',
    }),
    sigma_max: key('number', null, {
      nullable: true,
      min: 0,
      help: 'upper end of Karras / exponential / beta grids; null = the training table',
    }),
    shift_terminal: key('number', null, {
      nullable: true,
      help: 'only for flow-matching sigmas (not implemented); allowed values: null',
    }),
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof UniPCMultistepScheduler.configSpec>;

  /** Sample before the last predictor (x_{t-1} of UniC), null at the start of a run. */
  lastSample: NDArray | null = null;
  /** Order p used by the last predictor, reused by the next corrector. */
  thisOrder = 0;

  constructor(config: SchedulerConfig = {}) {
    super(mapUniPCNames(config));
    const c = this.config;
    if (c.solver_p != null)
      throw new Error(
        `${this.className} config: solver_p = ${JSON.stringify(c.solver_p)} is not supported (a scheduler object as predictor); allowed values: null`,
      );
    if (c.shift_terminal != null)
      throw new Error(
        `${this.className} config: shift_terminal = ${c.shift_terminal} is only supported with use_flow_sigmas = true, which is not implemented; allowed values: null`,
      );
    c.disable_corrector.forEach((v, i) => {
      if (!Number.isInteger(v))
        throw new Error(`${this.className} config: disable_corrector[${i}] = ${v} must be an integer step index`);
    });
    if (c.predict_x0 === false && c.final_sigmas_type === 'zero') {
      // diffusers returns NaN at the last step here (sigma_t (e^h - 1) with sigma_t = 0, h = inf)
      throw new Error(
        `${this.className} config: final_sigmas_type = 'zero' is not supported with predict_x0 = false (the noise-prediction update is 0 * inf at sigma = 0); use final_sigmas_type = 'sigma_min' or predict_x0 = true`,
      );
    }
    this.resetHistory();
  }

  /**
   * Build the inference grid (spacing per timestep_spacing, or Karras / exponential / beta sigmas between
   * sigma_min and sigma_max) and append the final sigma: 0, or sigma_min (the last grid sigma for converted
   * grids, the training sigma_min otherwise — as diffusers).
   * @example s.setTimesteps(10);
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const req = this.timestepsRequest(arg);
    if (req.timesteps !== undefined)
      throw new Error(
        `${this.className}.setTimesteps: custom timesteps are not supported by UniPC (as in diffusers); pass numInferenceSteps`,
      );
    const c = this.config;
    const kind = this.gridKind();
    const grid = this.buildGrid(req, { sigmaMin: c.sigma_min, sigmaMax: c.sigma_max });
    let last = 0;
    if (c.final_sigmas_type === 'sigma_min')
      last = kind === 'interp' ? trainingSigmaMin(this.alphasCumprod) : grid.sigmas[grid.sigmas.length - 1];
    this.setGrid(grid.timesteps, appendFinalSigma(grid.sigmas, last));
    this.numInferenceSteps = grid.timesteps.length;
    this.resetHistory();
    this.lastSample = null;
  }

  /** x0 (predict_x0) or eps from the raw model output at the current grid point; thresholding acts on x0. */
  override convertModelOutput(modelOutput: NDArray, sample: NDArray): { converted: NDArray; x0: NDArray } {
    const c = this.config;
    const out = this.meanChannels(modelOutput, sample);
    const { alpha, sigma } = this.point(this.stepIdx as number);
    const x0 = predictionToX0(out, c.prediction_type, sample, alpha, sigma);
    if (c.predict_x0) {
      const th = this.maybeThreshold(x0);
      return { converted: th, x0: th };
    }
    return { converted: predictionToEps(out, c.prediction_type, sample, alpha, sigma), x0 };
  }

  /**
   * One UniPC step: correct the sample with UniC (using this step's model output, unless disabled for the
   * previous step index), then predict the next sample with UniP of order
   * min(solver_order, steps so far + 1, steps left when lower_order_final).
   * @example const { prevSample } = s.step(eps, s.timesteps[0], xT);
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    const i = this.beginStep(modelOutput, timestep, sample);
    const c = this.config;
    const disabled = c.disable_corrector as number[];
    const useCorrector = i > 0 && !disabled.includes(i - 1) && this.lastSample !== null;
    const { converted, x0 } = this.convertModelOutput(modelOutput, sample);
    if (useCorrector) sample = this.correct(converted, this.lastSample as NDArray, this.thisOrder);
    this.pushOutput(converted);
    const n = this.timesteps.length;
    const order = c.lower_order_final ? Math.min(c.solver_order, n - i) : c.solver_order;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1); // warm-up of the multistep method
    this.lastSample = sample;
    const prevSample = this.predict(sample, this.thisOrder);
    this.countStep();
    this.stepIdx = i + 1;
    return { prevSample, predOriginalSample: x0 };
  }

  /**
   * r_k, the order-condition matrix R (rows r^{i-1}) and right-hand side b_i = i! phi_{i+1}(hh) / B(h),
   * with h_phi_1 = e^{hh} - 1 and phi_{k+1} from phi_k / hh - 1/k! (Zhao et al. 2023, Sec. 3).
   */
  private orderConditions(
    rks: number[],
    h: number,
    order: number,
  ): { hh: number; hPhi1: number; Bh: number; R: number[][]; b: number[] } {
    const hh = this.config.predict_x0 ? -h : h;
    const hPhi1 = f32(Math.expm1(hh));
    let hPhiK = f32(f32(hPhi1 / hh) - 1);
    let factorial = 1;
    const Bh = this.config.solver_type === 'bh1' ? hh : f32(Math.expm1(hh));
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => f32(r ** (i - 1))));
      b.push(f32(f32(hPhiK * factorial) / Bh));
      factorial *= i + 1;
      hPhiK = f32(f32(hPhiK / hh) - f32(1 / factorial));
    }
    return { hh, hPhi1, Bh, R, b };
  }

  /**
   * What the predictor and the corrector share, for an update from grid point j (s0) to j + 1 (t) with `order`
   * model outputs: r_k = (lambda_{s_k} - lambda_s0) / h for the earlier outputs m_k (r = 1 last), the order
   * conditions, and the scalar weights a (of the base sample), c0 (of m0) and cRes (of the B(h) correction sum).
   */
  private updateFrame(
    j: number,
    order: number,
  ): { rks: number[]; prev: NDArray[]; R: number[][]; b: number[]; a: number; c0: number; cRes: number } {
    const t = this.point(j + 1),
      s0 = this.point(j);
    const h = f32(t.lambda - s0.lambda); // h = lambda_t - lambda_s0
    const rks: number[] = [];
    const prev: NDArray[] = [];
    for (let k = 1; k < order; k++) {
      // r_k = (lambda_{s_k} - lambda_s0) / h
      rks.push(f32(f32(this.point(j - k).lambda - s0.lambda) / h));
      prev.push(this.output(k));
    }
    rks.push(1);
    const { hPhi1, Bh, R, b } = this.orderConditions(rks, h, order);
    const x0Form = this.config.predict_x0;
    // a = sigma_t / sigma_s0 (x_0 form) or alpha_t / alpha_s0; c0 = -scale (e^{hh} - 1); cRes = -scale B(h);
    // scale = alpha_t (x_0 form) or sigma_t
    const a = x0Form ? f32(t.sigma / s0.sigma) : f32(t.alpha / s0.alpha);
    const scale = x0Form ? t.alpha : t.sigma;
    return { rks, prev, R, b, a, c0: -f32(scale * hPhi1), cRes: -f32(scale * Bh) };
  }

  /** UniP-p: predictor from the current grid point s0 to the next point t (Zhao et al. 2023). */
  protected predict(sample: NDArray, order: number): NDArray {
    const { rks, prev, R, b, a, c0, cRes } = this.updateFrame(this.stepIdx as number, order);
    let rhos: number[] = [];
    if (order === 2) rhos = [0.5];
    else if (order > 2)
      rhos = solveLinearF32(
        R.slice(0, -1).map((row) => row.slice(0, -1)),
        b.slice(0, -1),
      );
    // x_t = a x + c0 m0 + cRes * sum_k rho_k (m_k - m0) / r_k. Terms with no difference are skipped, so a
    // final sigma of 0 with 'bh1' (B(h) = hh = -inf) gives x_t = x0 where diffusers computes -inf * 0 = NaN.
    return this.combine(a, sample, c0, cRes, rks, rhos, prev, null);
  }

  /**
   * UniC-p: corrector of the sample x_t produced by the last predictor, using its model output m_t
   * (Zhao et al. 2023). `lastSample` is the sample the predictor started from; the corrected
   * value replaces the predicted x_t entirely.
   */
  protected correct(modelT: NDArray, lastSample: NDArray, order: number): NDArray {
    const { rks, prev, R, b, a, c0, cRes } = this.updateFrame((this.stepIdx as number) - 1, order);
    const rhos = order === 1 ? [0.5] : solveLinearF32(R, b);
    // x_t = a x + c0 m0 + cRes * (sum_k rho_k (m_k - m0)/r_k + rho_last (m_t - m0))
    return this.combine(a, lastSample, c0, cRes, rks, rhos, prev, modelT);
  }

  /**
   * x_t = a x + c0 m0 + cRes (sum_k rho_k (m_k - m0) / r_k [+ rho_last (m_t - m0)]), accumulated by `lincomb` with
   * m0's weight collecting the -w of every difference (the corrector passes its model output m_t).
   */
  private combine(
    a: number,
    x: NDArray,
    c0: number,
    cRes: number,
    rks: number[],
    rhos: number[],
    prev: NDArray[],
    modelT: NDArray | null,
  ): NDArray {
    const terms: Array<[number, NDArray]> = [[a, x]];
    let m0coef = c0;
    for (let k = 0; k < prev.length; k++) {
      const w = (cRes * rhos[k]) / rks[k];
      terms.push([w, prev[k]]);
      m0coef -= w;
    }
    if (modelT) {
      const wt = cRes * rhos[rhos.length - 1];
      terms.push([wt, modelT]);
      m0coef -= wt;
    }
    terms.push([m0coef, this.output(0)]);
    return lincomb(terms);
  }
}

registerScheduler(UniPCMultistepScheduler);
