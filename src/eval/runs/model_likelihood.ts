/**
 * Likelihood metrics of a trained model folder on data points of its training distribution:
 *  - 'nll': the probability-flow ODE likelihood (./pf_ode_likelihood.ts), exact divergence for vector
 *    data (D <= 64), Hutchinson probes for images (which are uniformly dequantised and reported in
 *    bits/dim); vector data in nats per point.
 *  - 'vlb' / 'bpd': the variational bound (./vlb.ts) with the discretised decoder for images (bits/dim)
 *    or the continuous one for vector data (nats per point; bits/dim also given).
 * Data: for toy sets, fresh samples (never seen in training); for finite data sets, a seeded subset of the
 * data set, which the model may have been trained on (there is no separate test split in a model folder).
 *
 * @example
 *   const r = await modelLikelihood(loaded, 'nll', { n: 1000, seed: 0 });
 *   r.value; r.standardError; r.unit;   // e.g. 2.51, 0.04, 'nats per point'
 */
import { Philox, type NDArray } from '../../engine/index.ts';
import type { LoadedModel } from '../../pipelines/sample_model.ts';
import { denoiserFor, isClassConditional, modelSampleShape } from '../../pipelines/denoiser.ts';
import { openDataSource } from '../../data/data_source.ts';
import { EXACT_MAX_DIM, EpsDivergence, trainedEpsModel } from '../metrics/divergence.ts';
import { bitsPerDimFromNll, dequantize, pfOdeLikelihood } from '../metrics/pf_ode_likelihood.ts';
import { variationalBound, type VlbVarianceType } from '../metrics/vlb.ts';
import { trainingAlphasCumprod } from '../metrics/training_schedule.ts';
import { isImageModel } from './counted_sampling.ts';
import { referenceSeed } from './sample_quality.ts';

import { LIKELIHOOD_METRICS, type LikelihoodMetricName } from './metric_names.ts';

export { LIKELIHOOD_METRICS, type LikelihoodMetricName };

export interface LikelihoodOptions {
  /** Data points. */
  n: number;
  seed: number;
  /** ODE tolerances (default 1e-5 both, Song et al. 2021). */
  rtol?: number;
  atol?: number;
  /** Hutchinson probes (0 = exact trace; default exact when D <= 64, else 1). */
  probes?: number;
  /** Points per ODE solve / (point, t) pairs per VLB model call. */
  batchSize?: number;
  /** VLB: 'all' timesteps or K stratified ones (default: all for vector data, 50 for images). */
  vlbTimesteps?: 'all' | number;
}

export interface LikelihoodReport {
  metric: LikelihoodMetricName;
  description: string;
  unit: string;
  value: number;
  standardError: number | null;
  details: Record<string, unknown>;
}

function varianceTypeOf(cfg: Record<string, unknown>, outChannels: number, inChannels: number): VlbVarianceType {
  const v = String(cfg.variance_type ?? 'fixed_small');
  if (v === 'learned_range') return 'learned_range';
  if (outChannels === 2 * inChannels)
    throw new Error(`eval: the model outputs learned variances but its scheduler says variance_type '${v}'`);
  if (v === 'fixed_small' || v === 'fixed_small_log') return 'fixed_small';
  if (v === 'fixed_large' || v === 'fixed_large_log') return 'fixed_large';
  throw new Error(
    `eval: variance_type '${v}' of the scheduler config is not supported by the VLB (allowed: fixed_small, fixed_small_log, fixed_large, fixed_large_log, learned_range)`,
  );
}

/**
 * Evaluate a likelihood metric of a loaded model (see the module doc).
 * @example await modelLikelihood(loaded, 'vlb', { n: 500, seed: 1 })
 */
export async function modelLikelihood(
  m: LoadedModel,
  metricName: string,
  o: LikelihoodOptions,
): Promise<LikelihoodReport> {
  const metric = metricName as LikelihoodMetricName;
  if (!(LIKELIHOOD_METRICS as readonly string[]).includes(metric))
    throw new Error(`--metric ${metric}: not a likelihood metric; allowed: ${LIKELIHOOD_METRICS.join(', ')}`);
  if (isClassConditional(m.model))
    throw new Error(
      `--metric ${metric}: likelihoods of class-conditional models need labels, which diffuse eval does not pass; use the library API (pfOdeLikelihood / variationalBound with labels)`,
    );
  if (!(Number.isInteger(o.n) && o.n >= 2)) throw new Error(`--n: expected an integer >= 2, got ${o.n}`);
  const spec = m.info?.data.spec;
  if (!spec)
    throw new Error(
      'eval: the model folder has no diffuse.json (written by `diffuse train`), so the data it was trained on is unknown',
    );
  const data = openDataSource(spec, { batchSize: 1, seed: 0 });
  const x0 = data.reference(o.n, referenceSeed(o.seed));
  const where = `${x0.shape[0]} ${data.describe().size === null ? 'fresh samples' : 'data-set points'} of '${spec}'`;
  const points: HeldOutPoints = { x0, where, image: isImageModel(m), shape: modelSampleShape(m.model) };
  return metric === 'nll' ? odeLikelihood(m, points, o) : vlbLikelihood(m, metric, points, o);
}

/** The data points a likelihood is evaluated on, and what the report says of them. */
interface HeldOutPoints {
  x0: NDArray;
  /** e.g. "1000 fresh samples of '8gaussians'" */
  where: string;
  /** image model: dequantised ODE NLL and discretised VLB decoder, in bits/dim */
  image: boolean;
  shape: readonly number[];
}

/** nll: the probability-flow ODE NLL (exact trace up to EXACT_MAX_DIM dims, Hutchinson probes beyond). */
async function odeLikelihood(m: LoadedModel, p: HeldOutPoints, o: LikelihoodOptions): Promise<LikelihoodReport> {
  const { x0, image, where } = p;
  const D = p.shape.reduce((a, b) => a * b, 1);
  const probes = o.probes ?? (D <= EXACT_MAX_DIM ? 0 : 1);
  const f = EpsDivergence.create(trainedEpsModel(m.model, m.weights, m.schedulerConfig), { probes });
  const x = image ? dequantize(x0, new Philox(o.seed).fold(0xde9)) : x0;
  const r = await pfOdeLikelihood(f, x, {
    rtol: o.rtol ?? 1e-5,
    atol: o.atol ?? 1e-5,
    seed: o.seed,
    batchSize: o.batchSize ?? (image ? 16 : undefined),
  });
  const details = {
    nats_per_point: r.nllMean.mean,
    nats_per_point_se: r.nllMean.se,
    nfe: r.nfe,
    rk45_steps: r.steps,
    rk45_rejected: r.rejected,
    sigma_min: r.sigmaMin,
    sigma_max: r.sigmaMax,
    divergence: probes === 0 ? 'exact trace' : `Hutchinson, ${probes} Rademacher probe(s)`,
    dims: D,
    mean_prior_logp: r.priorLogp.reduce((a, b) => a + b, 0) / r.priorLogp.length,
  };
  if (image) {
    const bpd = Array.from(r.nll, (v) => bitsPerDimFromNll(v, D));
    const mean = bpd.reduce((a, b) => a + b, 0) / bpd.length;
    return {
      metric: 'nll',
      unit: 'bits/dim',
      value: mean,
      standardError: r.nllMean.se === null ? null : r.nllMean.se / (D * Math.LN2),
      details,
      description: `probability-flow ODE NLL (RK45 rtol ${o.rtol ?? 1e-5}, atol ${o.atol ?? 1e-5}) of ${where}, uniformly dequantised, in bits/dim`,
    };
  }
  return {
    metric: 'nll',
    unit: 'nats per point',
    value: r.nllMean.mean,
    standardError: r.nllMean.se,
    details,
    description: `probability-flow ODE NLL -log p(x) (RK45 rtol ${o.rtol ?? 1e-5}, atol ${o.atol ?? 1e-5}, ${details.divergence}) of ${where}`,
  };
}

/** vlb / bpd: the variational bound of DDPM (all T terms, or L_0 + stratified terms for images). */
async function vlbLikelihood(
  m: LoadedModel,
  metric: LikelihoodMetricName,
  p: HeldOutPoints,
  o: LikelihoodOptions,
): Promise<LikelihoodReport> {
  const { x0, image, where } = p;
  const D = p.shape.reduce((a, b) => a * b, 1);
  const outC = (m.model.config as unknown as { out_channels: number }).out_channels;
  const timesteps = o.vlbTimesteps ?? (image ? 50 : 'all');
  const r = await variationalBound(denoiserFor(m.model, m.weights), x0, {
    alphasCumprod: trainingAlphasCumprod(m.schedulerConfig),
    varianceType: varianceTypeOf(m.schedulerConfig, outC, p.shape[0]),
    predictionType: String(m.schedulerConfig.prediction_type ?? 'epsilon'),
    decoder: image ? 'discretized' : 'continuous',
    timesteps,
    generator: new Philox(o.seed).fold(0x71b),
    batchSize: o.batchSize ?? (image ? 64 : 4096),
  });
  const details = {
    nats_per_point: r.nats.mean,
    nats_per_point_se: r.nats.se,
    bits_per_dim: r.bitsPerDim.mean,
    bits_per_dim_se: r.bitsPerDim.se,
    terms_nats_per_point: r.terms,
    timesteps,
    model_calls: r.modelCalls,
    terms_evaluated: r.termsEvaluated,
    dims: D,
  };
  const tsText = timesteps === 'all' ? 'all T terms' : `L_0 + ${timesteps} stratified terms`;
  if (image || metric === 'bpd') {
    return {
      metric,
      unit: 'bits/dim',
      value: r.bitsPerDim.mean,
      standardError: r.bitsPerDim.se,
      details,
      description: `variational bound (${tsText}, ${image ? 'discretised' : 'continuous'} decoder) of ${where}, bits/dim`,
    };
  }
  return {
    metric,
    unit: 'nats per point',
    value: r.nats.mean,
    standardError: r.nats.se,
    details,
    description: `variational bound on -log p(x) (${tsText}, continuous Gaussian decoder) of ${where}, nats per point`,
  };
}
