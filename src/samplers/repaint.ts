/**
 * RePaintScheduler: inpainting with an unconditional DDPM by resampling (Lugmayr et al. 2022,
 * "RePaint", arXiv:2201.09865), with diffusers' config keys, schedule and numerics.
 *
 * One reverse step t -> t' = t - T / n on x_t, with a mask m (1 = known, keep; 0 = unknown, fill in):
 *   unknown part:  x_{t'} = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - sigma_t^2) eps + sigma_t z   (DDIM eq. 12, sigma from eta)
 *   known part:    x_{t'} = sqrt(abar_t') x_known + sqrt(1 - abar_t') z                            (RePaint eq. 8a)
 *   x_{t'} = m * known + (1 - m) * unknown                                                      (RePaint eq. 8c)
 * (the same draw z serves both parts, as in diffusers). The schedule goes back up in time by
 * `jump_length` steps, `jump_n_sample - 1` times at every multiple of jump_length (RePaint sec. 4.2,
 * Algorithm 1 "resampling"); those upward moves are `undoStep`: x_{t+1} = sqrt(1 - beta_{t+1}) x_t +
 * sqrt(beta_{t+1}) z applied T / n times (the forward kernel, RePaint eq. 1).
 *
 * The scheduler takes an epsilon-predicting model (as diffusers' RePaint does). Drive it with
 * `repaint` in src/pipelines/inpaint.ts, or by hand: a timestep lower than the previous one is a
 * model step, a higher one an undoStep from the previous timestep.
 *
 * @example
 *   const s = RePaintScheduler.fromConfig({ eta: 0, clip_sample: true });
 *   s.setTimesteps({ numInferenceSteps: 250, jumpLength: 10, jumpNSample: 10 });
 *   let tLast = s.timesteps[0] + 1;
 *   for (const t of s.timesteps) {
 *     x = t < tLast ? s.step(eps(x, t), t, x, { originalSample: known, mask, generator }).prevSample
 *                   : s.undoStep(x, tLast, generator);
 *     tLast = t;
 *   }
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
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
import { drawNoise, stepTimestep } from './step_utils.ts';
import { f32 } from '../engine/f32.ts';

/** setTimesteps' options of RePaint: the step count and the resampling jumps (diffusers' defaults 10 / 10). */
export interface RePaintTimestepsOptions extends SetTimestepsOptions {
  /** Steps taken back up in time per jump ("j" in RePaint, fig. 9/10). Default 10. */
  jumpLength?: number;
  /** How often each jump point is resampled ("r" in RePaint). Default 10 (1 = no resampling). */
  jumpNSample?: number;
}

/** step() options of RePaint: the known sample and where it is known. */
export interface RePaintStepOptions extends StepOptions {
  /** The sample whose known region is kept (diffusers' `original_image`), same shape as the sample. */
  originalSample: NDArray;
  /** 1 where originalSample is known (kept), 0 where it is filled in; same shape as the sample (diffusers' convention). */
  mask: NDArray;
}

/**
 * RePaint's timestep sequence (diffusers' set_timesteps): descending with upward jumps, in units of
 * T / n. @example repaintTimesteps(1000, 4, 1, 2) // [750, 500, 750, 500, 250, 500, 250, 0, 250, 0]
 */
export function repaintTimesteps(
  numTrainTimesteps: number,
  numInferenceSteps: number,
  jumpLength: number,
  jumpNSample: number,
): number[] {
  const n = Math.min(numTrainTimesteps, numInferenceSteps);
  const jumps = new Map<number, number>();
  for (let j = 0; j < n - jumpLength; j += jumpLength) jumps.set(j, jumpNSample - 1);
  const out: number[] = [];
  let t = n;
  while (t >= 1) {
    t -= 1;
    out.push(t);
    const left = jumps.get(t) ?? 0;
    if (left > 0) {
      jumps.set(t, left - 1);
      for (let k = 0; k < jumpLength; k++) {
        t += 1;
        out.push(t);
      }
    }
  }
  const ratio = Math.floor(numTrainTimesteps / n);
  return out.map((v) => v * ratio);
}

/** diffusers' RePaintScheduler (see the file comment). @example RePaintScheduler.fromConfig({ eta: 0 }) */
export class RePaintScheduler extends BetaScheduler {
  static override readonly className = 'RePaintScheduler';
  static override readonly configSpec = {
    ...betaTableKeys({ beta_schedule: enumKey('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid']) }),
    eta: key('number', 0.0, { min: 0, help: 'weight of the noise of the unknown part: 0 = DDIM, 1 = DDPM' }),
    clip_sample: COMMON_KEYS.clip_sample,
  } satisfies ConfigSpec;
  declare readonly config: ConfigOf<typeof RePaintScheduler.configSpec>;

  /** Noise weight of the unknown part (diffusers' `scheduler.eta`, which its pipeline overwrites per call). */
  eta: number;
  /** alphaBar after the last step (diffusers' final_alpha_cumprod = 1). */
  readonly finalAlphaCumprod = 1.0;
  /** Jump settings of the current schedule. */
  jumpLength = 10;
  jumpNSample = 10;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    this.eta = this.config.eta;
    const T = this.config.num_train_timesteps;
    this.timesteps = new Float64Array(T).map((_, i) => T - 1 - i);
  }

  /**
   * The resampling schedule: `setTimesteps(n)` or `setTimesteps({ numInferenceSteps, jumpLength, jumpNSample })`.
   * n is capped at num_train_timesteps (as diffusers does).
   * @example s.setTimesteps({ numInferenceSteps: 100, jumpLength: 10, jumpNSample: 10 })
   */
  setTimesteps(arg: number | RePaintTimestepsOptions): void {
    const o: RePaintTimestepsOptions = typeof arg === 'number' ? { numInferenceSteps: arg } : arg;
    const owner = `${this.className}.setTimesteps`;
    if (o.timesteps !== undefined || o.sigmas !== undefined)
      throw new Error(`${owner}: custom timesteps/sigmas are not supported (as in diffusers); pass numInferenceSteps`);
    const n = o.numInferenceSteps;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new Error(`${owner}: numInferenceSteps = ${n} must be an integer >= 1`);
    const jl = o.jumpLength ?? 10,
      jn = o.jumpNSample ?? 10;
    if (!Number.isInteger(jl) || jl < 1) throw new Error(`${owner}: jumpLength = ${jl} must be an integer >= 1`);
    if (!Number.isInteger(jn) || jn < 1)
      throw new Error(`${owner}: jumpNSample = ${jn} must be an integer >= 1 (1 = no resampling)`);
    const T = this.config.num_train_timesteps;
    this.numInferenceSteps = Math.min(T, n);
    this.jumpLength = jl;
    this.jumpNSample = jn;
    this.timesteps = Float64Array.from(repaintTimesteps(T, n, jl, jn));
  }

  private abarPrev(prevT: number): number {
    return prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
  }

  /** (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev): DDIM eq. 16 without eta (diffusers' _get_variance). */
  getVariance(t: number): number {
    const prevT = t - Math.floor(this.config.num_train_timesteps / this.numInferenceSteps!);
    const abarT = this.alphasCumprod[t],
      abarPrev = this.abarPrev(prevT);
    return f32(f32(f32(1 - abarPrev) / f32(1 - abarT)) * f32(1 - f32(abarT / abarPrev)));
  }

  /**
   * One reverse step t -> t - T/n for an epsilon model output; the known region comes from
   * `originalSample` noised to t - T/n with the step's noise draw (one draw per call, like diffusers).
   * Options: originalSample, mask, generator (or varianceNoise), eta (default: this.eta).
   * @example s.step(eps, t, x, { originalSample: known, mask, generator })
   */
  step(modelOutput: NDArray, timestep: number, sample: NDArray, opts?: StepOptions): StepOutput {
    const o = (opts ?? {}) as Partial<RePaintStepOptions>;
    const owner = this.className;
    if (this.numInferenceSteps === null)
      throw new Error(
        `${owner}: number of inference steps is not set; call setTimesteps(numInferenceSteps) before step()`,
      );
    if (!o.originalSample || !o.mask)
      throw new Error(
        `${owner}.step: pass { originalSample, mask } (the known sample and a mask with 1 = known, 0 = inpaint)`,
      );
    for (const [name, a] of [
      ['originalSample', o.originalSample],
      ['mask', o.mask],
      ['modelOutput', modelOutput],
    ] as const) {
      if (!sameShape(a.shape, sample.shape))
        throw new Error(
          `${owner}.step: ${name} has shape [${a.shape.join(', ')}], expected the sample's [${sample.shape.join(', ')}]`,
        );
    }
    const eta = o.eta ?? this.eta;
    if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0)
      throw new Error(`${owner}.step: eta = ${eta} must be a finite number >= 0 (0 = DDIM, 1 = DDPM)`);
    const T = this.config.num_train_timesteps;
    const t = stepTimestep(timestep, T, owner);
    const prevT = t - Math.floor(T / this.numInferenceSteps);
    const abarT = this.alphasCumprod[t],
      abarPrev = this.abarPrev(prevT);
    const betaProdT = f32(1 - abarT);
    const sb = f32(Math.sqrt(betaProdT)),
      sa = f32(Math.sqrt(abarT));
    const clip = this.config.clip_sample;
    // one draw per step, used by both parts (diffusers draws it even when eta = 0)
    const noise = drawNoise(modelOutput.shape, o, owner);
    const stdDevT = f32(f32(eta) * f32(Math.sqrt(this.getVariance(t))));
    const withVariance = t > 0 && eta > 0;
    const dirCoeff = f32(Math.sqrt(f32(f32(1 - abarPrev) - f32(stdDevT * stdDevT))));
    const saPrev = f32(Math.sqrt(abarPrev)),
      sbPrev = f32(Math.sqrt(f32(1 - abarPrev)));
    const x0 = new NDArray(sample.shape),
      prev = new NDArray(sample.shape);
    const e = modelOutput.data,
      x = sample.data,
      z = noise.data,
      known = o.originalSample.data,
      m = o.mask.data;
    for (let i = 0; i < x.length; i++) {
      let p = f32(f32(x[i] - f32(sb * e[i])) / sa);
      if (clip) p = Math.min(1, Math.max(-1, p));
      x0.data[i] = p;
      let unknown = f32(f32(saPrev * p) + f32(dirCoeff * e[i]));
      if (withVariance) unknown = f32(unknown + f32(stdDevT * z[i]));
      const knownPart = f32(f32(saPrev * known[i]) + f32(sbPrev * z[i]));
      prev.data[i] = f32(f32(m[i] * knownPart) + f32(f32(1 - m[i]) * unknown));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  /**
   * Move a sample T/n steps forward in time (noisier) from `timestep` with the forward kernel,
   * x <- sqrt(1 - beta) x + sqrt(beta) z per training step (one noise draw each, like diffusers).
   * @example x = s.undoStep(x, tLast, generator)
   */
  undoStep(sample: NDArray, timestep: number, generator: RandomGenerator): NDArray {
    if (this.numInferenceSteps === null)
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before undoStep()`);
    if (!generator) throw new Error(`${this.className}.undoStep: pass a generator (e.g. new TorchGenerator(seed))`);
    const T = this.config.num_train_timesteps;
    const n = Math.floor(T / this.numInferenceSteps);
    if (!Number.isInteger(timestep) || timestep < 0 || timestep + n - 1 >= T) {
      throw new Error(`${this.className}.undoStep: timestep = ${timestep} must be an integer in [0, ${T - n}]`);
    }
    let x = sample;
    for (let i = 0; i < n; i++) {
      const beta = this.betas[timestep + i];
      const a = f32(Math.sqrt(f32(1 - beta))),
        b = f32(Math.sqrt(beta));
      const z = generator.normal(sample.shape);
      const next = new NDArray(sample.shape);
      for (let k = 0; k < next.size; k++) next.data[k] = f32(f32(a * x.data[k]) + f32(b * z.data[k]));
      x = next;
    }
    return x;
  }

  /** Not supported, as in diffusers (train with DDPMScheduler.addNoise). */
  addNoise(_originalSamples: NDArray, _noise: NDArray, _timesteps: number | ArrayLike<number>): NDArray {
    throw new Error(
      `${this.className}.addNoise: not supported (as in diffusers); use DDPMScheduler.addNoise to train a model for RePaint`,
    );
  }
}

registerScheduler(RePaintScheduler);
