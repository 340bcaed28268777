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
  NDArray,
  add,
  mean,
  mul,
  slice,
  square,
  stopGradient,
  sub,
  type InputSpec,
  type RandomGenerator,
  type Value,
} from '../engine/index.ts';
import type { EdmObjectiveConfig } from './edm_objective.ts';
import { VLB_COEFFS, vlbCoefficients, vlbTermPerSample, type DecoderType } from '../diffusion/vlb_terms.ts';

export type TrainPredictionType = 'epsilon' | 'sample' | 'v_prediction';
export type TrainVarianceType = 'fixed' | 'learned_range';

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
  if (!PREDICTIONS.includes(out.predictionType))
    throw new Error(`objective: prediction_type '${out.predictionType}' is not one of ${PREDICTIONS.join(', ')}`);
  if (!VARIANCES.includes(out.varianceType))
    throw new Error(`objective: variance_type '${out.varianceType}' is not one of ${VARIANCES.join(', ')}`);
  if (!DECODERS.includes(out.decoder))
    throw new Error(`objective: decoder '${out.decoder}' is not one of ${DECODERS.join(', ')}`);
  if (out.snrGamma !== undefined && !(out.snrGamma > 0))
    throw new Error(`objective: snr_gamma must be > 0, got ${out.snrGamma}`);
  if (!(out.vlbWeight >= 0)) throw new Error(`objective: vlb_weight must be >= 0, got ${out.vlbWeight}`);
  if (out.varianceType === 'learned_range' && out.predictionType !== 'epsilon') {
    throw new Error(
      `objective: variance_type 'learned_range' needs prediction_type 'epsilon' (Improved DDPM), got '${out.predictionType}'`,
    );
  }
  return out as Required<ObjectiveConfig> & { snrGamma: number | undefined };
}

/** Host side of the objective: tables over t and the batch maker. */
export class DiffusionObjective {
  readonly config: ReturnType<typeof validateObjective>;
  readonly T: number;
  constructor(
    readonly alphasCumprod: Float32Array,
    config: ObjectiveConfig = {},
  ) {
    this.config = validateObjective(config);
    this.T = alphasCumprod.length;
    if (this.T < 2) throw new Error(`objective: need at least 2 training timesteps, got ${this.T}`);
  }

  /** Names and shapes of the graph inputs the loss reads (besides the model's). */
  batchSpecs(x0Shape: readonly number[]): InputSpec[] {
    const b = x0Shape[0];
    const specs: InputSpec[] = [
      { name: 'x_t', shape: x0Shape },
      { name: 't', shape: [b] },
      { name: 'target', shape: x0Shape },
      { name: 'weight', shape: [b] },
    ];
    if (this.config.varianceType === 'learned_range') {
      specs.push({ name: 'x0', shape: x0Shape });
      for (const n of VLB_COEFFS) specs.push({ name: n, shape: [b] });
    }
    return specs;
  }

  /** Draw t and noise for a batch of clean data x0 [B, ...]; returns the graph inputs by name. */
  makeBatch(
    x0: NDArray,
    rng: RandomGenerator & { randint?(n: number, max: number): Uint32Array },
    t?: ArrayLike<number>,
  ): Record<string, NDArray> {
    const B = x0.shape[0];
    const D = x0.size / B;
    const ts = t ? Array.from(t) : drawTimesteps(rng, B, this.T);
    const noise = rng.normal(x0.shape);
    const xt = new NDArray(x0.shape),
      target = new NDArray(x0.shape);
    const weight = new NDArray([B]);
    const { predictionType, snrGamma } = this.config;
    for (let b = 0; b < B; b++) {
      const abar = this.alphasCumprod[ts[b]];
      const a = Math.sqrt(abar),
        s = Math.sqrt(1 - abar);
      for (let i = b * D; i < (b + 1) * D; i++) {
        const x = x0.data[i],
          e = noise.data[i];
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
        VLB_COEFFS.forEach((n, k) => {
          c[k].data[b] = v[n];
        });
      }
      VLB_COEFFS.forEach((n, k) => {
        out[n] = c[k];
      });
    }
    return out;
  }
}

function drawTimesteps(
  rng: RandomGenerator & { randint?(n: number, max: number): Uint32Array },
  B: number,
  T: number,
): number[] {
  if (rng.randint) return Array.from(rng.randint(B, T));
  return Array.from(rng.uniform([B]).data, (u) => Math.min(T - 1, Math.floor(u * T)));
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
      throw new Error(
        `diffusionLoss: learned_range needs the model to output 2 x ${C} channels, got ${modelOutput.shape[1]}`,
      );
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

/** L_t of the VLB in bits per dimension, averaged over the batch (Improved DDPM sec. 2, eq. 5 and the decoder at t = 0). */
function vlbTerm(eps: Value, v: Value, b: Record<string, Value>, decoder: DecoderType): Value {
  return mean(vlbTermPerSample(eps, v, b, decoder));
}
