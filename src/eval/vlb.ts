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
import { NDArray, compile, trace, type Executable, type RandomGenerator, type Value } from '../engine/index.ts';
import { VLB_COEFFS, vlbCoefficients, vlbTermPerSample, type DecoderType } from '../diffusion/vlb_terms.ts';
import { predictionToEps } from '../diffusion/parameterization.ts';
import type { AsyncModelFn } from '../pipelines/generate.ts';
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
    { name: 'eps', shape }, { name: 'v', shape }, { name: 'x_t', shape }, { name: 'x0', shape },
    ...VLB_COEFFS.map((n) => ({ name: n, shape: [shape[0]] })),
  ];
  return trace((eps: Value, v: Value, xt: Value, x0: Value, ...c: Value[]) => {
    const b: Record<string, Value> = { x_t: xt, x0 };
    VLB_COEFFS.forEach((n, i) => { b[n] = c[i]; });
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
  if (T < 2) throw new Error(`variationalBound: alphasCumprod has ${T} entries; need at least 2`);
  if (!VARIANCES.includes(o.varianceType)) {
    throw new Error(`variationalBound: variance_type '${o.varianceType}' is not supported (allowed: ${VARIANCES.join(', ')})`);
  }
  if (o.decoder !== 'discretized' && o.decoder !== 'continuous') throw new Error(`variationalBound: decoder '${o.decoder}' is not one of discretized, continuous`);
  const ts = o.timesteps ?? 'all';
  if (ts !== 'all' && !(Number.isInteger(ts) && ts >= 1 && ts <= T - 1)) {
    throw new Error(`variationalBound: timesteps = ${ts} must be 'all' or an integer in 1..${T - 1}`);
  }
  const M = o.batchSize ?? 1024;
  if (!(Number.isInteger(M) && M >= 1)) throw new Error(`variationalBound: batchSize = ${M} must be a positive integer`);
  const N = x0.shape[0];
  if (x0.ndim < 2 || N < 1) throw new Error(`variationalBound: expected data [N, ...] with N >= 1, got shape [${x0.shape.join(', ')}]`);
  if (o.labels && o.labels.length !== N) throw new Error(`variationalBound: ${o.labels.length} labels for ${N} points`);
  const D = x0.size / N;
  const sampleShape = x0.shape.slice(1);
  const C = sampleShape[0];

  // (point, t, weight) terms: L_0 for every point, then all t >= 1 or K stratified ones.
  const pi: number[] = [], pt: number[] = [], pw: number[] = [];
  if (ts === 'all') {
    for (let t = 0; t < T; t++) for (let i = 0; i < N; i++) { pi.push(i); pt.push(t); pw.push(1); }
  } else {
    for (let i = 0; i < N; i++) { pi.push(i); pt.push(0); pw.push(1); }
    const u = o.generator.uniform([ts, N]).data;
    for (let k = 0; k < ts; k++) {
      const lo = 1 + Math.floor((k * (T - 1)) / ts), hi = 1 + Math.floor(((k + 1) * (T - 1)) / ts); // stratum [lo, hi)
      for (let i = 0; i < N; i++) {
        pi.push(i); pt.push(Math.min(hi - 1, lo + Math.floor(u[k * N + i] * (hi - lo)))); pw.push(hi - lo);
      }
    }
  }
  const coeffs = Array.from({ length: T }, (_, t) => vlbCoefficients(abar, t));

  const perPoint = new Float64Array(N), decoderPart = new Float64Array(N), diffusionPart = new Float64Array(N);
  const batch = Math.min(M, pi.length);
  const bShape = [batch, ...sampleShape];
  let exe: Promise<Executable> | undefined;
  let modelCalls = 0;
  for (let start = 0; start < pi.length; start += batch) {
    const rows = Math.min(batch, pi.length - start);
    const x0b = new NDArray(bShape), xt = new NDArray(bShape);
    const tArr = new Float32Array(batch);
    const labels = o.labels ? new Float32Array(batch) : undefined;
    const alpha = new Float64Array(batch), sig = new Float64Array(batch);
    const noise = o.generator.normal(bShape);
    for (let r = 0; r < batch; r++) {
      const p = start + Math.min(r, rows - 1); // pad the last batch with its last row
      const i = pi[p], t = pt[p];
      tArr[r] = t;
      if (labels) labels[r] = o.labels![i];
      alpha[r] = Math.sqrt(abar[t]); sig[r] = Math.sqrt(1 - abar[t]);
      for (let j = 0; j < D; j++) {
        const v = x0.data[i * D + j];
        x0b.data[r * D + j] = v;
        xt.data[r * D + j] = alpha[r] * v + sig[r] * noise.data[r * D + j]; // q(x_t | x0), DDPM eq. 4
      }
    }
    const out = await model(xt, tArr, labels);
    modelCalls++;
    let epsOut = out, vOut: NDArray;
    if (o.varianceType === 'learned_range') {
      if (out.shape[1] !== 2 * C) throw new Error(`variationalBound: variance_type learned_range needs a model with 2 x ${C} output channels, got ${out.shape[1]}`);
      [epsOut, vOut] = splitChannels(out, C);
    } else {
      if (out.shape[1] !== C) epsOut = splitChannels(out, C)[0];
      // -1 selects beta~_t, +1 beta_t (eq. 15); fixed_large uses beta~_1 at t = 0 like Improved DDPM
      vOut = new NDArray(bShape);
      for (let r = 0; r < batch; r++) vOut.data.fill(o.varianceType === 'fixed_large' && tArr[r] > 0 ? 1 : -1, r * D, (r + 1) * D);
    }
    const eps = predictionToEps(epsOut, o.predictionType, xt, alpha, sig);
    const feeds: Record<string, NDArray> = { eps, v: vOut, x_t: xt, x0: x0b };
    for (const n of VLB_COEFFS) feeds[n] = new NDArray([batch], Float32Array.from(tArr, (t) => coeffs[t][n]));
    exe ??= compile(termGraph(bShape, o.decoder));
    const [bits] = await (await exe).run(feeds);
    for (let r = 0; r < rows; r++) {
      const p = start + r, i = pi[p];
      const nats = pw[p] * bits.data[r] * D * Math.LN2;
      perPoint[i] += nats;
      if (pt[p] === 0) decoderPart[i] += nats; else diffusionPart[i] += nats;
    }
  }
  // L_T = KL(N(sqrt(abar_T) x0, (1 - abar_T) I) || N(0, I)), in closed form
  const aT = abar[T - 1];
  const priorPart = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let kl = 0;
    for (let j = 0; j < D; j++) {
      const m = Math.sqrt(aT) * x0.data[i * D + j];
      kl += 0.5 * (-1 - Math.log(1 - aT) + (1 - aT) + m * m);
    }
    priorPart[i] = kl;
    perPoint[i] += kl;
  }
  const nats = meanAndStandardError(perPoint);
  const bpd = meanAndStandardError(Array.from(perPoint, (v) => v / (D * Math.LN2)));
  const avg = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / N;
  return {
    perPoint, nats, bitsPerDim: bpd,
    terms: { prior: avg(priorPart), decoder: avg(decoderPart), diffusion: avg(diffusionPart) },
    modelCalls, termsEvaluated: pi.length, dims: D,
  };
}

/** The first c channels of x [B, C', ...] and the rest. */
function splitChannels(x: NDArray, c: number): [NDArray, NDArray] {
  const B = x.shape[0], C2 = x.shape[1];
  const inner = x.size / (B * C2);
  const a = new NDArray([B, c, ...x.shape.slice(2)]), b = new NDArray([B, C2 - c, ...x.shape.slice(2)]);
  for (let i = 0; i < B; i++) {
    a.data.set(x.data.subarray(i * C2 * inner, (i * C2 + c) * inner), i * c * inner);
    b.data.set(x.data.subarray((i * C2 + c) * inner, (i + 1) * C2 * inner), i * (C2 - c) * inner);
  }
  return [a, b];
}
