/**
 * The EDM training objective (Karras et al. 2022, eq. 8 with the preconditioning of Table 1):
 *
 *   ln sigma ~ N(P_mean, P_std^2),  n ~ N(0, I),  x = x0 + sigma n
 *   model input c_in(sigma) x and noise label s c_noise(sigma), c_noise = ln(sigma) / 4 (s = noiseLabelScale)
 *   loss = || F(c_in x; c_noise) - (x0 - c_skip x) / c_out ||^2
 *
 * which is lambda(sigma) ||D(x; sigma) - x0||^2 with lambda = 1 / c_out^2 (so every sample has weight 1 on F).
 * The batch uses the graph inputs of the DDPM objective (x_t, t, target, weight), so TrainStep, EMA and
 * checkpoints are shared; the model folder records the formulation by writing an EDMDPMSolverMultistepScheduler
 * scheduler_config.json (`schedulerConfig()`), as diffusers' EDM pipelines do.
 *
 * @example
 *   const obj = new EdmObjective({ sigmaData: 0.5 });
 *   const batch = obj.makeBatch(x0, rng);                 // { x_t, t, target, weight }
 *   // inside TrainStep's loss: edmLoss(model(b.x_t, b.t), b)
 */
import {
  NDArray,
  mean,
  mul,
  reshape,
  square,
  sub,
  type InputSpec,
  type RandomGenerator,
  type Value,
} from '../engine/index.ts';
import { EDM_DEFAULTS, edmPreconditioning } from '../diffusion/edm.ts';

/** Settings of the EDM objective (EDM's defaults when absent). */
export interface EdmObjectiveConfig {
  /** Standard deviation of the data (0.5 in EDM; about 1 for standardised tabular / toy data). */
  sigmaData?: number;
  /** Mean and std of ln(sigma) during training (default EDM's -1.2 + ln(sigma_data / 0.5), and 1.2). */
  pMean?: number;
  pStd?: number;
  /** Sampling range written into the model folder's scheduler config (default EDM's 0.002 and 80, times sigma_data / 0.5). */
  sigmaMin?: number;
  sigmaMax?: number;
  /**
   * The network's noise label is noiseLabelScale * ln(sigma) / 4 (EDM and diffusers: 1, the default). Recorded in
   * the scheduler config as `noise_label_scale` when it is not 1. Measured on 8gaussians (docs/fast-sampling.md):
   * 250 (a label spanning about what timesteps 0..999 span) trained no better than 1.
   */
  noiseLabelScale?: number;
}

/** Host side of the EDM objective: sigma / noise draws and the regression target. */
export class EdmObjective {
  readonly config: Required<EdmObjectiveConfig>;

  constructor(config: EdmObjectiveConfig = {}) {
    // EDM's values are for sigma_data = 0.5; for other data scales every noise level scales with sigma_data
    // (the formulation is scale-equivariant: x -> k x, sigma -> k sigma), so the defaults do too.
    const sigmaData = config.sigmaData ?? EDM_DEFAULTS.sigmaData;
    const k = sigmaData / EDM_DEFAULTS.sigmaData;
    const c = {
      sigmaData,
      pMean: config.pMean ?? EDM_DEFAULTS.pMean + Math.log(k),
      pStd: config.pStd ?? EDM_DEFAULTS.pStd,
      sigmaMin: config.sigmaMin ?? EDM_DEFAULTS.sigmaMin * k,
      sigmaMax: config.sigmaMax ?? EDM_DEFAULTS.sigmaMax * k,
      noiseLabelScale: config.noiseLabelScale ?? 1,
    };
    if (!(c.noiseLabelScale > 0 && Number.isFinite(c.noiseLabelScale)))
      throw new Error(`EDM objective: noise_label_scale = ${c.noiseLabelScale} must be a finite number > 0`);
    if (!(c.sigmaData > 0 && Number.isFinite(c.sigmaData)))
      throw new Error(`EDM objective: sigma_data = ${c.sigmaData} must be a finite number > 0`);
    if (!Number.isFinite(c.pMean)) throw new Error(`EDM objective: P_mean = ${c.pMean} must be finite`);
    if (!(c.pStd >= 0 && Number.isFinite(c.pStd)))
      throw new Error(`EDM objective: P_std = ${c.pStd} must be a finite number >= 0`);
    if (!(c.sigmaMin > 0 && c.sigmaMax > c.sigmaMin))
      throw new Error(
        `EDM objective: sigma_min = ${c.sigmaMin}, sigma_max = ${c.sigmaMax}; need 0 < sigma_min < sigma_max`,
      );
    this.config = c;
  }

  /** Names and shapes of the graph inputs the loss reads (besides the model's). */
  batchSpecs(x0Shape: readonly number[]): InputSpec[] {
    const b = x0Shape[0];
    return [
      { name: 'x_t', shape: x0Shape },
      { name: 't', shape: [b] },
      { name: 'target', shape: x0Shape },
      { name: 'weight', shape: [b] },
    ];
  }

  /**
   * Draw sigma (log-normal) and noise for a batch x0 [B, ...] (or use the given `sigmas`): x_t = c_in (x0 + sigma n),
   * t = c_noise, target = (x0 - c_skip (x0 + sigma n)) / c_out, weight = 1.
   * @example const b = obj.makeBatch(x0, new Philox(0));
   */
  makeBatch(x0: NDArray, rng: RandomGenerator, sigmas?: ArrayLike<number>): Record<string, NDArray> {
    const B = x0.shape[0];
    const D = x0.size / B;
    const { sigmaData, pMean, pStd } = this.config;
    let sig: ArrayLike<number>;
    if (sigmas) {
      if (sigmas.length !== B) throw new Error(`EdmObjective.makeBatch: ${sigmas.length} sigmas for a batch of ${B}`);
      sig = sigmas;
    } else {
      const z = rng.normal([B]).data;
      sig = Float64Array.from(z, (v) => Math.exp(pMean + pStd * v));
    }
    const noise = rng.normal(x0.shape);
    const xt = new NDArray(x0.shape),
      target = new NDArray(x0.shape),
      t = new NDArray([B]),
      weight = new NDArray([B]);
    for (let b = 0; b < B; b++) {
      const s = sig[b];
      const { cSkip, cOut, cIn, cNoise } = edmPreconditioning(s, sigmaData);
      for (let i = b * D; i < (b + 1) * D; i++) {
        const x = x0.data[i] + s * noise.data[i];
        xt.data[i] = cIn * x;
        target.data[i] = (x0.data[i] - cSkip * x) / cOut;
      }
      t.data[b] = this.config.noiseLabelScale * cNoise;
      weight.data[b] = 1;
    }
    return { x_t: xt, t, target, weight };
  }

  /**
   * The model folder's scheduler_config.json: an EDMDPMSolverMultistepScheduler config (diffusers' keys), the
   * sampler `diffuse sample` and the pipelines run on the folder when none is named. Its class name tells samplers
   * the model is an EDM-preconditioned F network with c_noise = ln(sigma) / 4. DPM-Solver++(2M) rather than EDM's
   * Euler: on the 5-minute MNIST model (docs/mnist/README.md, run 6) 20 steps give FID-MNIST 78 against Euler's 116.
   * @example saveModelFolder(out, modelConfig, weights, obj.schedulerConfig())
   */
  schedulerConfig(): Record<string, unknown> {
    const c = this.config;
    return {
      _class_name: 'EDMDPMSolverMultistepScheduler',
      sigma_min: c.sigmaMin,
      sigma_max: c.sigmaMax,
      sigma_data: c.sigmaData,
      sigma_schedule: 'karras',
      num_train_timesteps: 1000,
      prediction_type: 'epsilon',
      rho: EDM_DEFAULTS.rho,
      final_sigmas_type: 'zero',
      ...(c.noiseLabelScale !== 1 ? { noise_label_scale: c.noiseLabelScale } : {}),
    };
  }
}

/**
 * The EDM loss as traced ops: mean over the batch of weight * mean over the rest of (F - target)^2.
 * @example const loss = edmLoss(model.forward(b.x_t, b.t), b);
 */
export function edmLoss(modelOutput: Value, b: Record<string, Value>): Value {
  if (modelOutput.shape[1] !== b.target.shape[1]) {
    throw new Error(
      `edmLoss: the model outputs ${modelOutput.shape[1]} channels but the data has ${b.target.shape[1]} (learned variance is not part of the EDM objective)`,
    );
  }
  const sq = square(sub(modelOutput, b.target));
  const perRow = mean(sq, [...Array(sq.rank).keys()].slice(1));
  return mean(mul(perRow, reshape(b.weight, [b.weight.shape[0]])));
}
