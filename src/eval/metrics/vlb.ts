/**
 * The variational bound (VLB / ELBO) of a discrete-time diffusion model, per data point
 * (Ho et al. 2020, DDPM eq. 5; Nichol & Dhariwal 2021, Improved DDPM sec. 2 and their `calc_bpd_loop`):
 *     -log p(x0) <= L_T + sum_{t=1}^{T-1} L_{t-1} + L_0
 *     L_T     = KL(q(x_T | x0) || N(0, I))                                 (prior term, closed form)
 *     L_{t-1} = KL(q(x_{t-1} | x_t, x0) || p_theta(x_{t-1} | x_t)),  x_t ~ q(x_t | x0)
 *     L_0     = -log p_theta(x0 | x1)                                     (decoder)
 * The per-term formulas are the training code's (src/diffusion/vlb_terms.ts `vlbTermPerSample`, checked
 * there against a PyTorch implementation of the papers): Gaussian KLs in closed form, the decoder either
 * the discretised Gaussian over 256 bins of images in [-1, 1] (DDPM sec. 3.3) -> bits/dim, or a continuous
 * Gaussian density for real-valued low-dimensional data -> nats.
 * Model variance: 'fixed_small' (beta~_t), 'fixed_large' (beta_t, with beta~_1 at t = 0 as Improved DDPM),
 * or 'learned_range' (the model's extra channels, Improved DDPM eq. 15). The predicted x0 is not clipped.
 *
 * Each term uses its own fresh x_t. `timesteps: 'all'` sums all T terms (the exact bound, T model
 * evaluations per point, as Improved DDPM reports); `timesteps: K` is an unbiased estimate: L_0 exactly
 * plus a stratified sample of the t >= 1 terms (K strata of {1..T-1}, one uniform t per stratum and point,
 * weighted by the stratum size). The standard error is over data points (it includes the t-sampling noise).
 *
 * @example
 *   const r = await variationalBound(denoiserFor(model, weights), x0, {
 *     alphasCumprod, varianceType: 'fixed_small', predictionType: 'epsilon', decoder: 'continuous',
 *     generator: new Philox(0) });
 *   r.nats.mean;        // upper bound on -log p(x0), nats per point
 */
import { NDArray, compile, trace, type Executable, type RandomGenerator, type Value } from '../../engine/index.ts';
import { VLB_COEFFS, vlbCoefficients, vlbTermPerSample, type DecoderType } from '../../diffusion/vlb_terms.ts';
import { predictionToEps } from '../../diffusion/parameterization.ts';
import { firstChannels, type AsyncModelFn } from '../../pipelines/generate.ts';
import { splitChannels } from '../../samplers/step_utils.ts';
import { meanAndStandardError, type MeanSe } from './stats.ts';

export type VlbVarianceType = 'fixed_small' | 'fixed_large' | 'learned_range';
const VARIANCES: readonly VlbVarianceType[] = ['fixed_small', 'fixed_large', 'learned_range'];

export interface VlbOptions {
  /** The training schedule alphaBar_t, t = 0..T-1. */
  alphasCumprod: ArrayLike<number>;
  varianceType: VlbVarianceType;
  predictionType: string;
  decoder: DecoderType;
  /** 'all' (default): every term; K: L_0 plus K stratified terms per point. */
  timesteps?: 'all' | number;
  /** Draws x_t (normal) and the stratified timesteps (uniform). */
  generator: RandomGenerator;
  /** (point, timestep) pairs per model call (default 1024). */
  batchSize?: number;
  /** Class labels per point (class-conditional models: bound on -log p(x0 | y)). */
  labels?: ArrayLike<number>;
}

export interface VlbResult {
  /** The bound per point, nats (sum over dimensions). */
  perPoint: Float64Array;
  /** Mean bound in nats per point, with its standard error over points. */
  nats: MeanSe;
  /** The same in bits per dimension. */
  bitsPerDim: MeanSe;
  /** Mean of each part over points, nats per point: prior L_T, decoder L_0, the diffusion terms. */
  terms: { prior: number; decoder: number; diffusion: number };
  /** Model calls (batched) and (point, timestep) terms evaluated. */
  modelCalls: number;
  termsEvaluated: number;
  dims: number;
}

/** The per-term graph: bits/dim per row from eps, the variance output v, x_t, x0 and the VLB coefficients. */
function termGraph(shape: readonly number[], decoder: DecoderType) {
  const specs = [
    { name: 'eps', shape },
    { name: 'v', shape },
    { name: 'x_t', shape },
    { name: 'x0', shape },
    ...VLB_COEFFS.map((n) => ({ name: n, shape: [shape[0]] })),
  ];
  return trace((eps: Value, v: Value, xt: Value, x0: Value, ...c: Value[]) => {
    const b: Record<string, Value> = { x_t: xt, x0 };
    VLB_COEFFS.forEach((n, i) => {
      b[n] = c[i];
    });
    return { bits: vlbTermPerSample(eps, v, b, decoder) };
  }, specs);
}

/**
 * The variational bound per data point (see the module doc).
 * @example const { bitsPerDim } = await variationalBound(model, images, { ...opts, decoder: 'discretized', timesteps: 50 });
 */
export async function variationalBound(model: AsyncModelFn, x0: NDArray, o: VlbOptions): Promise<VlbResult> {
  const abar = Float64Array.from(o.alphasCumprod);
  const T = abar.length;
  checkVlbOptions(o, x0, T);
  const N = x0.shape[0],
    D = x0.size / N;
  const sampleShape = x0.shape.slice(1);
  const terms = chooseTerms(o.timesteps ?? 'all', T, N, o.generator);
  const coeffs = Array.from({ length: T }, (_, t) => vlbCoefficients(abar, t));

  const perPoint = new Float64Array(N),
    decoderPart = new Float64Array(N),
    diffusionPart = new Float64Array(N);
  const batch = Math.min(o.batchSize ?? 1024, terms.point.length);
  const bShape = [batch, ...sampleShape];
  let exe: Promise<Executable> | undefined;
  let modelCalls = 0;
  for (let start = 0; start < terms.point.length; start += batch) {
    const rows = Math.min(batch, terms.point.length - start);
    const b = noisyBatch(x0, terms, start, rows, bShape, abar, o);
    const out = await model(b.xt, b.t, b.labels);
    modelCalls++;
    const { eps, v } = epsAndVariance(out, b, sampleShape[0]!, o);
    const feeds: Record<string, NDArray> = { eps, v, x_t: b.xt, x0: b.x0 };
    for (const n of VLB_COEFFS)
      feeds[n] = new NDArray(
        [batch],
        Float32Array.from(b.t, (t) => coeffs[t]![n]),
      );
    exe ??= compile(termGraph(bShape, o.decoder));
    const [bits] = await (await exe).run(feeds);
    for (let r = 0; r < rows; r++) {
      const p = start + r,
        i = terms.point[p]!;
      const nats = terms.weight[p]! * bits!.data[r]! * D * Math.LN2;
      perPoint[i] += nats;
      if (terms.t[p] === 0) decoderPart[i] += nats;
      else diffusionPart[i] += nats;
    }
  }
  const priorPart = priorKl(x0, abar[T - 1]!);
  for (let i = 0; i < N; i++) perPoint[i] += priorPart[i]!;
  const avg = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / N;
  return {
    perPoint,
    nats: meanAndStandardError(perPoint),
    bitsPerDim: meanAndStandardError(Array.from(perPoint, (v) => v / (D * Math.LN2))),
    terms: { prior: avg(priorPart), decoder: avg(decoderPart), diffusion: avg(diffusionPart) },
    modelCalls,
    termsEvaluated: terms.point.length,
    dims: D,
  };
}

function checkVlbOptions(o: VlbOptions, x0: NDArray, T: number): void {
  if (T < 2) throw new Error(`variationalBound: alphasCumprod has ${T} entries; need at least 2`);
  if (!VARIANCES.includes(o.varianceType)) {
    throw new Error(
      `variationalBound: variance_type '${o.varianceType}' is not supported (allowed: ${VARIANCES.join(', ')})`,
    );
  }
  if (o.decoder !== 'discretized' && o.decoder !== 'continuous')
    throw new Error(`variationalBound: decoder '${o.decoder}' is not one of discretized, continuous`);
  const ts = o.timesteps ?? 'all';
  if (ts !== 'all' && !(Number.isInteger(ts) && ts >= 1 && ts <= T - 1)) {
    throw new Error(`variationalBound: timesteps = ${ts} must be 'all' or an integer in 1..${T - 1}`);
  }
  const M = o.batchSize ?? 1024;
  if (!(Number.isInteger(M) && M >= 1))
    throw new Error(`variationalBound: batchSize = ${M} must be a positive integer`);
  const N = x0.shape[0]!;
  if (x0.ndim < 2 || N < 1)
    throw new Error(`variationalBound: expected data [N, ...] with N >= 1, got shape [${x0.shape.join(', ')}]`);
  if (o.labels && o.labels.length !== N) throw new Error(`variationalBound: ${o.labels.length} labels for ${N} points`);
}

/** The (point, t, weight) terms to evaluate: L_0 for every point, then all t >= 1 or K stratified ones. */
interface Terms {
  point: number[];
  t: number[];
  weight: number[];
}

function chooseTerms(ts: 'all' | number, T: number, N: number, generator: RandomGenerator): Terms {
  const point: number[] = [],
    t: number[] = [],
    weight: number[] = [];
  if (ts === 'all') {
    for (let k = 0; k < T; k++)
      for (let i = 0; i < N; i++) {
        point.push(i);
        t.push(k);
        weight.push(1);
      }
    return { point, t, weight };
  }
  for (let i = 0; i < N; i++) {
    point.push(i);
    t.push(0);
    weight.push(1);
  }
  const u = generator.uniform([ts, N]).data;
  for (let k = 0; k < ts; k++) {
    const lo = 1 + Math.floor((k * (T - 1)) / ts),
      hi = 1 + Math.floor(((k + 1) * (T - 1)) / ts); // stratum [lo, hi)
    for (let i = 0; i < N; i++) {
      point.push(i);
      t.push(Math.min(hi - 1, lo + Math.floor(u[k * N + i]! * (hi - lo))));
      weight.push(hi - lo);
    }
  }
  return { point, t, weight };
}

interface NoisyBatch {
  x0: NDArray;
  xt: NDArray;
  t: Float32Array;
  labels?: Float32Array;
  alpha: Float64Array;
  sigma: Float64Array;
}

/** Rows start..start+rows of the terms as a batch (the last batch padded with its last row): x_t ~ q(x_t | x0). */
function noisyBatch(
  x0: NDArray,
  terms: Terms,
  start: number,
  rows: number,
  bShape: number[],
  abar: Float64Array,
  o: VlbOptions,
): NoisyBatch {
  const batch = bShape[0]!,
    D = x0.size / x0.shape[0]!;
  const b: NoisyBatch = {
    x0: new NDArray(bShape),
    xt: new NDArray(bShape),
    t: new Float32Array(batch),
    labels: o.labels ? new Float32Array(batch) : undefined,
    alpha: new Float64Array(batch),
    sigma: new Float64Array(batch),
  };
  const noise = o.generator.normal(bShape);
  for (let r = 0; r < batch; r++) {
    const p = start + Math.min(r, rows - 1);
    const i = terms.point[p]!,
      t = terms.t[p]!;
    b.t[r] = t;
    if (b.labels) b.labels[r] = o.labels![i]!;
    b.alpha[r] = Math.sqrt(abar[t]!);
    b.sigma[r] = Math.sqrt(1 - abar[t]!);
    for (let j = 0; j < D; j++) {
      const v = x0.data[i * D + j]!;
      b.x0.data[r * D + j] = v;
      // x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps   (DDPM eq. 4)
      b.xt.data[r * D + j] = b.alpha[r]! * v + b.sigma[r]! * noise.data[r * D + j]!;
    }
  }
  return b;
}

/** The predicted noise and the variance output v (learned, or -1 / +1 for fixed small / large) of a model output. */
function epsAndVariance(out: NDArray, b: NoisyBatch, C: number, o: VlbOptions): { eps: NDArray; v: NDArray } {
  let epsOut = out,
    v: NDArray;
  if (o.varianceType === 'learned_range') {
    if (out.shape[1] !== 2 * C)
      throw new Error(
        `variationalBound: variance_type learned_range needs a model with 2 x ${C} output channels, got ${out.shape[1]}`,
      );
    [epsOut, v] = splitChannels(out, C);
  } else {
    if (out.shape[1] !== C) epsOut = firstChannels(out, C);
    // -1 selects beta~_t, +1 beta_t (eq. 15); fixed_large uses beta~_1 at t = 0 like Improved DDPM
    v = new NDArray(b.xt.shape);
    const D = b.xt.size / b.xt.shape[0]!;
    for (let r = 0; r < b.t.length; r++)
      v.data.fill(o.varianceType === 'fixed_large' && b.t[r]! > 0 ? 1 : -1, r * D, (r + 1) * D);
  }
  return { eps: predictionToEps(epsOut, o.predictionType, b.xt, b.alpha, b.sigma), v };
}

/** L_T = KL(N(sqrt(abar_T) x0, (1 - abar_T) I) || N(0, I)) per point, in closed form (nats). */
function priorKl(x0: NDArray, aT: number): Float64Array {
  const N = x0.shape[0]!,
    D = x0.size / N;
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let kl = 0;
    for (let j = 0; j < D; j++) {
      const m = Math.sqrt(aT) * x0.data[i * D + j]!;
      kl += 0.5 * (-1 - Math.log(1 - aT) + (1 - aT) + m * m);
    }
    out[i] = kl;
  }
  return out;
}
