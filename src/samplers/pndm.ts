/**
 * PNDMScheduler: Pseudo Numerical methods for Diffusion Models (Liu et al. 2022, arXiv:2202.09778),
 * with diffusers' config keys and numerics.
 *
 * The "transfer" part phi(x_t, eps, t, t') moves x along the DDIM path from t to t' (PNDM eq. 11):
 *   x_t' = sqrt(abar_t'/abar_t) x_t - (abar_t' - abar_t) eps / (abar_t sqrt(1 - abar_t') + sqrt(abar_t (1 - abar_t) abar_t')).
 * The "gradient" part combines eps estimates: 4 pseudo Runge-Kutta warm-up steps (PRK, eq. 13; 3 model
 * calls each at t, t - h/2, t - h/2, t - h) and then pseudo linear multistep (PLMS, eq. 12:
 * (55 e_0 - 59 e_1 + 37 e_2 - 9 e_3) / 24, with lower-order Adams-Bashforth while history is short).
 * With `skip_prk_steps` (Stable Diffusion) the warm-up uses the second-order trick of diffusers
 * (one extra model call at the first timestep, averaged).
 *
 * @example
 *   const s = PNDMScheduler.fromConfig({ skip_prk_steps: true });
 *   s.setTimesteps(50);
 *   for (const t of s.timesteps) x = s.step(model(x, t), t, x).prevSample;
 */
import { NDArray } from '../engine/ndarray.ts';
import { addNoise } from '../diffusion/forward.ts';
import { badPredictionType } from '../diffusion/parameterization.ts';
import { npArange, npLinspace, roundHalfEven } from '../schedules/numerics.ts';
import {
  BetaScheduler,
  betaTableKeys,
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
import { scaledSum } from './vp_math.ts';
import { f32 } from '../engine/f32.ts';

/** diffusers' PNDMScheduler (see the file comment). @example PNDMScheduler.fromConfig({ skip_prk_steps: true }).setTimesteps(50) */
export class PNDMScheduler extends BetaScheduler {
  static override readonly className = 'PNDMScheduler';
  static override readonly configSpec = {
    ...betaTableKeys(),
    skip_prk_steps: key('bool', false, { help: 'skip the Runge-Kutta warm-up (Stable Diffusion uses true)' }),
    set_alpha_to_one: key('bool', false),
    prediction_type: enumKey('epsilon', ['epsilon', 'v_prediction']),
    timestep_spacing: enumKey('leading', ['linspace', 'leading', 'trailing']),
    steps_offset: COMMON_KEYS.steps_offset,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof PNDMScheduler.configSpec>;

  readonly finalAlphaCumprod: number;
  /** Order of the pseudo linear multistep part. */
  readonly pndmOrder = 4;
  /** Timesteps of the PRK warm-up (empty with skip_prk_steps) and of PLMS. */
  prkTimesteps: Float64Array = new Float64Array(0);
  plmsTimesteps: Float64Array = new Float64Array(0);

  private counter = 0;
  private curModelOutput: NDArray | null = null;
  private curSample: NDArray | null = null;
  private ets: NDArray[] = [];

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1.0 : this.alphasCumprod[0];
  }

  /**
   * Timesteps: the configured spacing gives n ascending base timesteps; PRK repeats the last four with
   * half steps, PLMS visits the rest (diffusers' layout, so `timesteps.length` is 2n - 1 (PRK) or n + 1 (skip_prk_steps)).
   * @example s.setTimesteps(10); s.timesteps  // [900, 850, 850, 800, 800, 750, 750, 700, 700, 600, ...]
   */
  setTimesteps(arg: number | SetTimestepsOptions): void {
    const numInferenceSteps = this.stepCountOnly(arg);
    const T = this.config.num_train_timesteps;
    const n = numInferenceSteps;
    this.numInferenceSteps = n;
    const spacing = this.config.timestep_spacing;
    let base: Float64Array; // ascending
    if (spacing === 'linspace') {
      base = npLinspace(0, T - 1, n).map(roundHalfEven);
    } else if (spacing === 'leading') {
      const ratio = Math.floor(T / n);
      base = new Float64Array(n).map((_, i) => i * ratio + this.config.steps_offset);
    } else if (spacing === 'trailing') {
      base = npArange(T, 0, -T / n)
        .map(roundHalfEven)
        .reverse()
        .map((v) => v - 1);
    } else {
      throw new Error(
        `${this.className}.setTimesteps: timestep_spacing = ${JSON.stringify(spacing)} is not supported; allowed values: 'linspace', 'leading', 'trailing'`,
      );
    }
    if (this.config.skip_prk_steps) {
      // concat(base[:-1], base[-2:-1], base[-1:]) reversed
      this.prkTimesteps = new Float64Array(0);
      const m = base.length;
      const plms = [...base.slice(0, m - 1), ...base.slice(Math.max(0, m - 2), m - 1), ...base.slice(m - 1)];
      this.plmsTimesteps = Float64Array.from(plms.reverse());
    } else {
      if (base.length < this.pndmOrder)
        throw new Error(
          `${this.className}.setTimesteps: num_inference_steps = ${n} is too small for the Runge-Kutta warm-up (needs >= ${this.pndmOrder}); use more steps or skip_prk_steps: true`,
        );
      // PRK: last pndm_order base timesteps, each followed by its half step (+ T//n//2), PNDM eq. (13)
      const half = Math.floor(Math.floor(T / n) / 2);
      const last = Array.from(base.slice(Math.max(0, base.length - this.pndmOrder)));
      const rep: number[] = [];
      for (const v of last) rep.push(v, v);
      const tiled = rep.map((v, i) => v + (i % 2 === 1 ? half : 0));
      const dropLast = tiled.slice(0, -1);
      const doubled: number[] = [];
      for (const v of dropLast) doubled.push(v, v);
      this.prkTimesteps = Float64Array.from(doubled.slice(1, -1).reverse());
      this.plmsTimesteps = Float64Array.from(Array.from(base.slice(0, Math.max(0, base.length - 3))).reverse());
    }
    this.timesteps = Float64Array.from([...this.prkTimesteps, ...this.plmsTimesteps]);
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  /** One PRK or PLMS step, whichever the schedule position asks for. */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, _opts: StepOptions = {}): StepOutput {
    if (this.counter < this.prkTimesteps.length && !this.config.skip_prk_steps)
      return this.stepPrk(modelOutput, timestep, sample);
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** Pseudo Runge-Kutta step (PNDM eq. 13): weights 1/6, 1/3, 1/3, 1/6 over four model calls. */
  stepPrk(modelOutput: NDArray, timestep: number, sample: NDArray): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(
        `${this.className}: number of inference steps is not set; call setTimesteps(numInferenceSteps) before step()`,
      );
    const T = this.config.num_train_timesteps;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(T / this.numInferenceSteps) / 2);
    const prevTimestep = timestep - diffToPrev;
    const t = this.prkTimesteps[Math.floor(this.counter / 4) * 4];
    // PRK weights 1/6, 1/3, 1/3, 1/6 as float32 scalars: eps' = (e_1 + 2 e_2 + 2 e_3 + e_4) / 6
    const sixth = f32(1 / 6),
      third = f32(1 / 3);
    const acc = (w: number) => {
      const scaled = modelOutput.map((v) => w * v);
      this.curModelOutput = this.curModelOutput ? this.curModelOutput.add(scaled) : scaled;
    };
    if (this.counter % 4 === 0) {
      acc(sixth);
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if ((this.counter - 1) % 4 === 0) {
      acc(third);
    } else if ((this.counter - 2) % 4 === 0) {
      acc(third);
    } else {
      const last = modelOutput.map((v) => sixth * v);
      modelOutput = this.curModelOutput ? this.curModelOutput.add(last) : last;
      this.curModelOutput = null;
    }
    const curSample = this.curSample ?? sample;
    const prev = this.getPrevSample(curSample, t, prevTimestep, modelOutput);
    this.counter += 1;
    return { prevSample: prev };
  }

  /** Pseudo linear multistep step (PNDM eq. 12), Adams-Bashforth coefficients of growing order. */
  stepPlms(modelOutput: NDArray, timestep: number, sample: NDArray): StepOutput {
    if (this.numInferenceSteps === null)
      throw new Error(
        `${this.className}: number of inference steps is not set; call setTimesteps(numInferenceSteps) before step()`,
      );
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new Error(
        `${this.className} can only run PLMS steps after the scheduler has run in 'prk' mode for at least 12 iterations (follow scheduler.timesteps from the start)`,
      );
    }
    const T = this.config.num_train_timesteps;
    const h = Math.floor(T / this.numInferenceSteps);
    let prevTimestep = timestep - h;
    let t = timestep;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      prevTimestep = timestep;
      t = timestep + h;
    }
    const e = this.ets;
    const n = e.length;
    if (n === 1 && this.counter === 0) {
      this.curSample = sample;
    } else if (n === 1 && this.counter === 1) {
      const out = new NDArray(modelOutput.shape),
        o = out.data,
        a = modelOutput.data,
        b = e[0].data;
      // eps' = (e_t + e_0) / 2   (the second-order start of skip_prk_steps)
      for (let i = 0; i < o.length; i++) o[i] = f32(a[i] + b[i]) / 2;
      modelOutput = out;
      sample = this.curSample!;
      this.curSample = null;
    } else if (n === 2) {
      const out = new NDArray(e[1].shape),
        o = out.data,
        a = e[1].data,
        b = e[0].data;
      // eps' = (3 e_0 - e_1) / 2   (Adams-Bashforth 2)
      for (let i = 0; i < o.length; i++) o[i] = f32(f32(3 * a[i]) - b[i]) / 2;
      modelOutput = out;
    } else if (n === 3) {
      const out = new NDArray(e[2].shape),
        o = out.data,
        a = e[2].data,
        b = e[1].data,
        c = e[0].data;
      // eps' = (23 e_0 - 16 e_1 + 5 e_2) / 12   (Adams-Bashforth 3)
      for (let i = 0; i < o.length; i++) o[i] = f32(f32(f32(23 * a[i]) - f32(16 * b[i])) + f32(5 * c[i])) / 12;
      modelOutput = out;
    } else {
      const out = new NDArray(e[n - 1].shape),
        o = out.data;
      const a = e[n - 1].data,
        b = e[n - 2].data,
        c = e[n - 3].data,
        d = e[n - 4].data;
      const k = f32(1 / 24);
      // eps' = (55 e_0 - 59 e_1 + 37 e_2 - 9 e_3) / 24   (PNDM eq. 12, Adams-Bashforth 4)
      for (let i = 0; i < o.length; i++)
        o[i] = k * f32(f32(f32(f32(55 * a[i]) - f32(59 * b[i])) + f32(37 * c[i])) - f32(9 * d[i]));
      modelOutput = out;
    }
    const prev = this.getPrevSample(sample, t, prevTimestep, modelOutput);
    this.counter += 1;
    return { prevSample: prev };
  }

  /** PNDM eq. (11): the DDIM-like transfer x_t -> x_{t'} given eps. */
  private getPrevSample(sample: NDArray, timestep: number, prevTimestep: number, modelOutput: NDArray): NDArray {
    const abarT = this.alphasCumprod[timestep];
    const abarPrev = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep] : this.finalAlphaCumprod;
    const betaProdT = f32(1 - abarT); // 1 - abar_t
    const betaProdTPrev = f32(1 - abarPrev); // 1 - abar_t'
    if (this.config.prediction_type === 'v_prediction') {
      const sa = f32(Math.sqrt(abarT)),
        sb = f32(Math.sqrt(betaProdT)); // sqrt(abar_t), sqrt(1 - abar_t)
      // eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t
      modelOutput = scaledSum(sa, modelOutput, sb, sample);
    } else if (this.config.prediction_type !== 'epsilon') {
      throw badPredictionType(this.config.prediction_type, `${this.className}.step`, ['epsilon', 'v_prediction']);
    }
    // sqrt(abar_t' / abar_t); abar_t sqrt(1 - abar_t') + sqrt(abar_t (1 - abar_t) abar_t'); abar_t' - abar_t
    const sampleCoeff = f32(Math.sqrt(f32(abarPrev / abarT)));
    const denom = f32(
      f32(abarT * f32(Math.sqrt(betaProdTPrev))) + f32(Math.sqrt(f32(f32(abarT * betaProdT) * abarPrev))),
    );
    const diff = f32(abarPrev - abarT);
    if (sample.size !== modelOutput.size)
      throw new Error(
        `${this.className}.step: model output shape [${modelOutput.shape.join(', ')}] differs from sample shape [${sample.shape.join(', ')}]`,
      );
    const out = new NDArray(sample.shape),
      o = out.data,
      x = sample.data,
      eps = modelOutput.data;
    // x_{t'} = sqrt(abar_t'/abar_t) x_t - (abar_t' - abar_t) eps / (abar_t sqrt(1-abar_t') + sqrt(abar_t (1-abar_t) abar_t'))
    for (let i = 0; i < o.length; i++) o[i] = f32(sampleCoeff * x[i]) - f32(f32(diff * eps[i]) / denom);
    return out;
  }

  /** Forward process q(x_t | x_0) (DDPM eq. 4). @example s.addNoise(x0, noise, 500) */
  addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray {
    return addNoise(originalSamples, noise, this.alphasCumprod, timesteps);
  }
}

registerScheduler(PNDMScheduler);
