/**
 * Diffusion training objectives.
 *
 * The forward process runs on the host (cheap, elementwise): `makeDiffusionBatch` draws
 * t ~ U{0..T-1} and eps ~ N(0, I), forms x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (DDPM eq. 4)
 * and the regression target for the chosen parameterisation. The loss runs inside the compiled
 * train-step graph: `diffusionLoss(modelOutput, batch)`.
 *
 * - MSE on epsilon (Ho et al. 2020, L_simple, eq. 14), on x0, or on v (Salimans & Ho 2022, eq. 9 ff.).
 * - min-SNR-gamma weighting (Hang et al. 2023): w = min(SNR, gamma) / SNR for epsilon,
 *   min(SNR, gamma) / (SNR + 1) for v, min(SNR, gamma) for x0.
 * - Learned variance ('learned_range', Nichol & Dhariwal 2021, eq. 15): the model outputs
 *   [eps, v] channels; log sigma^2 = f log beta_t + (1 - f) log beta~_t with f = (v + 1) / 2; the
 *   hybrid loss L_simple + lambda L_vlb (eq. 16) trains the variance through L_vlb only (the mean
 *   term sees eps through a stop-gradient, sec. 3.1).
 *
 * @example
 *   const obj = new DiffusionObjective(alphasCumprod, { predictionType: 'epsilon', snrGamma: 5 });
 *   const batch = obj.makeBatch(x0, rng);                       // host NDArrays
 *   // inside TrainStep's loss: diffusionLoss(model(b.x_t, b.t), b, obj)
 */
import {
  NDArray, add, clip, div, exp, log, mean, mul, reshape, slice, square, stopGradient, sub, tanh, where, greater,
  type InputSpec, type RandomGenerator, type Value,
} from '../engine/index.ts';
import type { EdmObjectiveConfig } from './edm_objective.ts';

export type TrainPredictionType = 'epsilon' | 'sample' | 'v_prediction';
export type TrainVarianceType = 'fixed' | 'learned_range';
/** How L_vlb scores x0 at t = 0: a discretised Gaussian over 256 bins (images in [-1, 1]) or a continuous Gaussian. */
export type DecoderType = 'discretized' | 'continuous';

export interface ObjectiveConfig {
  predictionType?: TrainPredictionType;
  /** min-SNR-gamma weighting; off when undefined. */
  snrGamma?: number;
  varianceType?: TrainVarianceType;
  /** lambda of the hybrid loss (Improved DDPM uses 0.001). */
  vlbWeight?: number;
  decoder?: DecoderType;
  /** 'edm': train the EDM-preconditioned network instead (src/training/edm_objective.ts; the other keys are unused). */
  formulation?: 'vp' | 'edm';
  /** Settings of the EDM objective. */
  edm?: EdmObjectiveConfig;
}

const PREDICTIONS = ['epsilon', 'sample', 'v_prediction'];
const VARIANCES = ['fixed', 'learned_range'];
const DECODERS = ['discretized', 'continuous'];

export function validateObjective(c: ObjectiveConfig): Required<ObjectiveConfig> & { snrGamma: number | undefined } {
  const out = {
    predictionType: c.predictionType ?? 'epsilon',
    snrGamma: c.snrGamma,
    varianceType: c.varianceType ?? 'fixed',
    vlbWeight: c.vlbWeight ?? 0.001,
    decoder: c.decoder ?? 'discretized',
  };
  if (!PREDICTIONS.includes(out.predictionType)) throw new Error(`objective: prediction_type '${out.predictionType}' is not one of ${PREDICTIONS.join(', ')}`);
  if (!VARIANCES.includes(out.varianceType)) throw new Error(`objective: variance_type '${out.varianceType}' is not one of ${VARIANCES.join(', ')}`);
  if (!DECODERS.includes(out.decoder)) throw new Error(`objective: decoder '${out.decoder}' is not one of ${DECODERS.join(', ')}`);
  if (out.snrGamma !== undefined && !(out.snrGamma > 0)) throw new Error(`objective: snr_gamma must be > 0, got ${out.snrGamma}`);
  if (!(out.vlbWeight >= 0)) throw new Error(`objective: vlb_weight must be >= 0, got ${out.vlbWeight}`);
  if (out.varianceType === 'learned_range' && out.predictionType !== 'epsilon') {
    throw new Error(`objective: variance_type 'learned_range' needs prediction_type 'epsilon' (Improved DDPM), got '${out.predictionType}'`);
  }
  return out as Required<ObjectiveConfig> & { snrGamma: number | undefined };
}

/** Host side of the objective: tables over t and the batch maker. */
export class DiffusionObjective {
  readonly config: ReturnType<typeof validateObjective>;
  readonly T: number;
  constructor(readonly alphasCumprod: Float32Array, config: ObjectiveConfig = {}) {
    this.config = validateObjective(config);
    this.T = alphasCumprod.length;
    if (this.T < 2) throw new Error(`objective: need at least 2 training timesteps, got ${this.T}`);
  }

  /** Names and shapes of the graph inputs the loss reads (besides the model's). */
  batchSpecs(x0Shape: readonly number[]): InputSpec[] {
    const b = x0Shape[0];
    const specs: InputSpec[] = [
      { name: 'x_t', shape: x0Shape }, { name: 't', shape: [b] }, { name: 'target', shape: x0Shape }, { name: 'weight', shape: [b] },
    ];
    if (this.config.varianceType === 'learned_range') {
      specs.push({ name: 'x0', shape: x0Shape });
      for (const n of VLB_COEFFS) specs.push({ name: n, shape: [b] });
    }
    return specs;
  }

  /** Draw t and noise for a batch of clean data x0 [B, ...]; returns the graph inputs by name. */
  makeBatch(x0: NDArray, rng: RandomGenerator & { randint?(n: number, max: number): Uint32Array }, t?: ArrayLike<number>): Record<string, NDArray> {
    const B = x0.shape[0];
    const D = x0.size / B;
    const ts = t ? Array.from(t) : drawTimesteps(rng, B, this.T);
    const noise = rng.normal(x0.shape);
    const xt = new NDArray(x0.shape), target = new NDArray(x0.shape);
    const weight = new NDArray([B]);
    const { predictionType, snrGamma } = this.config;
    for (let b = 0; b < B; b++) {
      const abar = this.alphasCumprod[ts[b]];
      const a = Math.sqrt(abar), s = Math.sqrt(1 - abar);
      for (let i = b * D; i < (b + 1) * D; i++) {
        const x = x0.data[i], e = noise.data[i];
        xt.data[i] = a * x + s * e;
        target.data[i] = predictionType === 'epsilon' ? e : predictionType === 'sample' ? x : a * e - s * x; // v = alpha eps - sigma x0
      }
      const snr = abar / (1 - abar);
      if (snrGamma === undefined) weight.data[b] = 1;
      else {
        const m = Math.min(snr, snrGamma);
        weight.data[b] = predictionType === 'epsilon' ? m / snr : predictionType === 'v_prediction' ? m / (snr + 1) : m;
      }
    }
    const out: Record<string, NDArray> = { x_t: xt, t: new NDArray([B], ts), target, weight };
    if (this.config.varianceType === 'learned_range') {
      out.x0 = x0;
      const c = VLB_COEFFS.map(() => new NDArray([B]));
      for (let b = 0; b < B; b++) {
        const v = vlbCoefficients(this.alphasCumprod, ts[b]);
        VLB_COEFFS.forEach((n, k) => { c[k].data[b] = v[n]; });
      }
      VLB_COEFFS.forEach((n, k) => { out[n] = c[k]; });
    }
    return out;
  }
}

function drawTimesteps(rng: RandomGenerator & { randint?(n: number, max: number): Uint32Array }, B: number, T: number): number[] {
  if (rng.randint) return Array.from(rng.randint(B, T));
  return Array.from(rng.uniform([B]).data, (u) => Math.min(T - 1, Math.floor(u * T)));
}

/** Names of the per-sample graph inputs of the VLB terms (values from `vlbCoefficients`). */
export const VLB_COEFFS = ['sqrt_recip_abar', 'sqrt_recipm1_abar', 'post_coef1', 'post_coef2', 'post_logvar', 'log_beta', 'is_t0'] as const;

/** Per-timestep constants of the true posterior q(x_{t-1} | x_t, x0) (DDPM eqs. 6–7), float64 like Improved DDPM. */
export function vlbCoefficients(alphasCumprod: ArrayLike<number>, t: number): Record<(typeof VLB_COEFFS)[number], number> {
  const abar = alphasCumprod[t];
  const abarPrev = t > 0 ? alphasCumprod[t - 1] : 1;
  const beta = 1 - abar / abarPrev;
  const postVar = (beta * (1 - abarPrev)) / (1 - abar);
  // Improved DDPM clips the log posterior variance at t = 0 (where it is 0) to its value at t = 1.
  const postVar1 = (() => {
    const a1 = alphasCumprod[1], a0 = alphasCumprod[0];
    return ((1 - a1 / a0) * (1 - a0)) / (1 - a1);
  })();
  return {
    sqrt_recip_abar: Math.sqrt(1 / abar),
    sqrt_recipm1_abar: Math.sqrt(1 / abar - 1),
    post_coef1: (beta * Math.sqrt(abarPrev)) / (1 - abar),
    post_coef2: ((1 - abarPrev) * Math.sqrt(1 - beta)) / (1 - abar),
    post_logvar: Math.log(t > 0 ? postVar : postVar1),
    log_beta: Math.log(beta),
    is_t0: t === 0 ? 1 : 0,
  };
}

/** Broadcast a per-sample [B] value against x [B, ...]. */
function perSample(c: Value, x: Value): Value {
  return reshape(c, [c.shape[0], ...x.shape.slice(1).map(() => 1)]);
}

/** Mean over all but the batch axis. */
function meanFlat(x: Value): Value {
  return mean(x, [...Array(x.rank).keys()].slice(1));
}

/**
 * The training loss for a model output, as traced ops. `b` holds the graph inputs named by
 * `batchSpecs` (x_t, t, target, weight, and the learned-variance terms).
 */
export function diffusionLoss(modelOutput: Value, b: Record<string, Value>, objective: DiffusionObjective): Value {
  const cfg = objective.config;
  const C = b.target.shape[1];
  let pred = modelOutput;
  let varOut: Value | undefined;
  if (cfg.varianceType === 'learned_range') {
    if (modelOutput.shape[1] !== (C as number) * 2) {
      throw new Error(`diffusionLoss: learned_range needs the model to output 2 x ${C} channels, got ${modelOutput.shape[1]}`);
    }
    pred = slice(modelOutput, [0], [C as number], [1]);
    varOut = slice(modelOutput, [C as number], [2 * (C as number)], [1]);
  }
  const mse = meanFlat(square(sub(pred, b.target)));
  let loss = mean(mul(mse, b.weight));
  if (varOut) {
    const vb = vlbTerm(stopGradient(pred), varOut, b, cfg.decoder);
    loss = add(loss, mul(vb, cfg.vlbWeight * objective.T));
  }
  return loss;
}

const LN2 = Math.log(2);

/** L_t of the VLB in bits per dimension, averaged over the batch (Improved DDPM sec. 2, eq. 5 and the decoder at t = 0). */
function vlbTerm(eps: Value, v: Value, b: Record<string, Value>, decoder: DecoderType): Value {
  return mean(vlbTermPerSample(eps, v, b, decoder));
}

/**
 * L_t of the VLB in bits per dimension for each batch row [B] (Improved DDPM sec. 2, eq. 5; the decoder
 * -log p(x0 | x1) at t = 0): KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)) where `is_t0` is 0. `eps` is the
 * predicted noise, `v` the learned-range variance output in [-1, 1] (eq. 15; -1 gives beta~_t, +1 gives
 * beta_t, so fixed variances are a constant v), `b` holds x_t, x0 and the `VLB_COEFFS` inputs [B].
 * Used by the hybrid loss and by src/eval/vlb.ts.
 * @example const bits = vlbTermPerSample(eps, minusOnes, { x_t, x0, ...coeffs }, 'discretized'); // [B]
 */
export function vlbTermPerSample(eps: Value, v: Value, b: Record<string, Value>, decoder: DecoderType): Value {
  const x = b.x_t;
  const ps = (n: string) => perSample(b[n], x);
  // model log-variance: interpolate between log beta~ (min) and log beta (max) — eq. 15
  const frac = mul(add(v, 1), 0.5);
  const logvar = add(mul(frac, ps('log_beta')), mul(sub(1, frac), ps('post_logvar')));
  const predX0 = sub(mul(ps('sqrt_recip_abar'), x), mul(ps('sqrt_recipm1_abar'), eps));
  const modelMean = add(mul(ps('post_coef1'), predX0), mul(ps('post_coef2'), x));
  const trueMean = add(mul(ps('post_coef1'), b.x0), mul(ps('post_coef2'), x));
  // KL(q || p) between diagonal Gaussians, in nats
  const trueLogvar = ps('post_logvar');
  const kl = mul(0.5, add(add(sub(logvar, trueLogvar), -1), add(exp(sub(trueLogvar, logvar)), mul(square(sub(trueMean, modelMean)), exp(mul(logvar, -1))))));
  const nll = decoder === 'discretized'
    ? discretizedGaussianNll(b.x0, modelMean, logvar)
    : mul(0.5, add(add(logvar, Math.log(2 * Math.PI)), mul(square(sub(b.x0, modelMean)), exp(mul(logvar, -1)))));
  const isT0 = b.is_t0;
  const klBits = div(meanFlat(kl), LN2);
  const nllBits = div(meanFlat(nll), LN2);
  return where(greater(isT0, 0.5), nllBits, klBits);
}

/**
 * -log p(x0) for x0 in [-1, 1] quantised to 256 bins under N(mean, exp(logvar)) (DDPM sec. 3.3,
 * with the tanh approximation of the normal CDF of Improved DDPM's code).
 */
function discretizedGaussianNll(x0: Value, mu: Value, logvar: Value): Value {
  const invStd = exp(mul(logvar, -0.5));
  const centered = sub(x0, mu);
  const cdf = (z: Value) => mul(0.5, add(1, tanh(mul(Math.sqrt(2 / Math.PI), add(z, mul(0.044715, mul(z, mul(z, z))))))));
  const cdfPlus = cdf(mul(invStd, add(centered, 1 / 255)));
  const cdfMin = cdf(mul(invStd, sub(centered, 1 / 255)));
  const logCdfPlus = log(clip(cdfPlus, 1e-12));
  const logOneMinusCdfMin = log(clip(sub(1, cdfMin), 1e-12));
  const logProbs = where(greater(-0.999, x0), logCdfPlus,
    where(greater(x0, 0.999), logOneMinusCdfMin, log(clip(sub(cdfPlus, cdfMin), 1e-12))));
  return mul(logProbs, -1);
}
