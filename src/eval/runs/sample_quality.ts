/**
 * Sample-quality metrics of a trained model folder, each with a real-data baseline (the same metric for
 * fresh / held-out data in place of samples: the noise floor a perfect sampler would reach at this n):
 *
 *  - mmd:        unbiased MMD^2 (./mmd.ts, Gretton et al. 2012) between samples and n fresh reference
 *                points, RBF bandwidth by the median heuristic on the reference alone (so every sampler
 *                of a sweep is scored with the same kernel at a given seed).
 *  - swd:        sliced Wasserstein-2 distance to the reference (./sliced_wasserstein.ts).
 *  - logp:       mean exact log-density of the samples under the true data distribution (toy sets with
 *                a closed-form density: 8gaussians, gmm); baseline = -entropy by Monte Carlo.
 *  - fid-mnist:  Fréchet distance between the MNIST classifier's 64 penultimate features of the samples
 *                and of the classifier's 8,000 training digits (./mnist_classifier.ts, ./frechet.ts);
 *                baseline = held-out real digits (at most 2,000) against the same statistics.
 *  - accuracy:   class-conditional models: fraction of samples the classifier assigns to their label.
 *  - confidence: mean top-class probability of the classifier on the samples.
 * For a seed s the reference set is fixed (`referenceSeed(s)`), so schedulers compared at seed s see the
 * same reference and, through generate(), the same initial noise (common random numbers).
 *
 * @example
 *   const metric = await createSampleMetric('mmd', loaded, { n: 2000 });
 *   const { value } = await metric.score(samples, 0);
 *   const floor = await metric.baseline(0);
 */
import { NDArray, Philox } from '../../engine/index.ts';
import { openDataSource, type DataSource } from '../../data/data_source.ts';
import { toy2d, TOY2D_NAMES } from '../../data/toy2d.ts';
import type { LoadedModel } from '../../pipelines/sample_model.ts';
import { modelSampleShape } from '../../pipelines/denoiser.ts';
import { medianSqDistance, mmdRbf } from '../metrics/mmd.ts';
import { slicedWasserstein } from '../metrics/sliced_wasserstein.ts';
import { meanLogDensity } from '../metrics/log_density.ts';
import { frechetDistance, gaussianStats, type GaussianStats } from '../metrics/frechet.ts';
import { FEATURE_DIM, argmax, loadMnistClassifier, type MnistClassifier } from '../metrics/mnist_classifier.ts';
import { mnistSplit } from '../../data/mnist.ts';

import { SAMPLE_METRICS, type SampleMetricName } from './metric_names.ts';

export { SAMPLE_METRICS, type SampleMetricName };

export interface MetricValue {
  value: number;
  /** Further numbers computed alongside (e.g. FID's confidence). */
  extra?: Record<string, number>;
}

export interface SampleMetric {
  name: SampleMetricName;
  /** Short axis label, e.g. 'MMD^2'. */
  label: string;
  /** What exactly the number is. */
  description: string;
  lowerIsBetter: boolean;
  /** The metric of model samples (labels: the class of each sample, for class-conditional models). */
  score(samples: NDArray, seed: number, labels?: Float32Array): Promise<MetricValue>;
  /** The same metric for real data in place of samples (the floor / ceiling at this n). */
  baseline(seed: number): Promise<MetricValue>;
}

export interface SampleMetricOptions {
  /** Number of samples (and reference points) per evaluation. */
  n: number;
  /** Directions of the sliced Wasserstein distance (default 256). */
  projections?: number;
  /** Classifier weights for fid-mnist / accuracy / confidence (default: the shipped ones). */
  classifier?: MnistClassifier;
}

/** Seed of the reference set used with sampling seed s (and of the baseline's stand-in "samples"). */
export const referenceSeed = (s: number) => 1_000_003 + s;
const baselineSeed = (s: number) => 2_000_003 + s;

function isMnistShaped(m: LoadedModel): boolean {
  const s = modelSampleShape(m.model);
  return s.length === 3 && s[0] === 1 && s[1] === 28 && s[2] === 28;
}

function dataSourceOf(m: LoadedModel): DataSource {
  const spec = m.info?.data.spec;
  if (!spec)
    throw new Error(
      'eval: the model folder has no diffuse.json (written by `diffuse train`), so the data it was trained on is unknown; reference-based metrics need it',
    );
  return openDataSource(spec, { batchSize: 1, seed: 0 });
}

/** The default sample metric for a model: mmd for vector data, fid-mnist for 28x28 grayscale images. */
export function defaultSampleMetric(m: LoadedModel): SampleMetricName {
  return isMnistShaped(m) ? 'fid-mnist' : 'mmd';
}

const refStatsCache = new WeakMap<MnistClassifier, Promise<GaussianStats>>();

/** Classifier-feature statistics of the 8,000 training digits (cached per classifier). */
export function mnistReferenceStats(clf: MnistClassifier): Promise<GaussianStats> {
  let p = refStatsCache.get(clf);
  if (!p) {
    p = (async () => gaussianStats((await clf.run(mnistSplit().train.images)).features.data, FEATURE_DIM))();
    refStatsCache.set(clf, p);
  }
  return p;
}

function confidence(probs: NDArray): number {
  const N = probs.shape[0];
  let s = 0;
  for (let i = 0; i < N; i++) s += probs.data[i * 10 + argmax(probs.data, i * 10, 10)];
  return s / N;
}

/**
 * Build a sample metric for a loaded model (checks that it applies; see the module doc).
 * @example const swd = await createSampleMetric('swd', loaded, { n: 2000, projections: 128 });
 */
export async function createSampleMetric(name: string, m: LoadedModel, o: SampleMetricOptions): Promise<SampleMetric> {
  if (!(SAMPLE_METRICS as readonly string[]).includes(name)) {
    throw new Error(`--metric ${name}: not a sample metric; allowed: ${SAMPLE_METRICS.join(', ')}`);
  }
  const n = o.n;
  if (!(Number.isInteger(n) && n >= 2)) throw new Error(`--n: expected an integer >= 2, got ${n}`);
  const metric = name as SampleMetricName;
  if (metric === 'mmd' || metric === 'swd' || metric === 'logp') return vectorDataMetric(metric, m, o);
  return classifierMetric(metric, m, o);
}

/** A seeded set of n points: the reference set of seed s, or fresh data standing in for samples. */
type SeededSet = (s: number) => NDArray;

/** mmd, swd and logp: metrics of low-dimensional vector samples against the model's training data. */
function vectorDataMetric(metric: 'mmd' | 'swd' | 'logp', m: LoadedModel, o: SampleMetricOptions): SampleMetric {
  if (isMnistShaped(m) || modelSampleShape(m.model).length !== 1) {
    throw new Error(
      `--metric ${metric}: meant for low-dimensional vector data; this model makes samples of shape [${modelSampleShape(m.model)}] (use fid-mnist, confidence or accuracy)`,
    );
  }
  const n = o.n;
  const data = dataSourceOf(m);
  const reference: SeededSet = (s) => data.reference(n, referenceSeed(s));
  const fresh: SeededSet = (s) => data.reference(n, baselineSeed(s));
  if (metric === 'mmd') return mmdMetric(n, reference, fresh);
  if (metric === 'swd') return swdMetric(n, o.projections ?? 256, reference, fresh);
  return logpMetric(n, m.info!.data.spec, fresh);
}

/** RBF bandwidth^2 by the median heuristic: the median squared distance between the two halves of `ref`. */
function medianBandwidthSq(ref: NDArray): number {
  const half = Math.floor(ref.shape[0] / 2),
    d = ref.size / ref.shape[0];
  const a = new NDArray([half, d], ref.data.subarray(0, half * d)),
    b = new NDArray([ref.shape[0] - half, d], ref.data.subarray(half * d));
  return medianSqDistance(a, b);
}

function mmdMetric(n: number, reference: SeededSet, fresh: SeededSet): SampleMetric {
  const score = async (x: NDArray, s: number) => {
    const ref = reference(s);
    const bw = medianBandwidthSq(ref);
    return { value: mmdRbf(x, ref, bw), extra: { bandwidth_sq: bw } };
  };
  return {
    name: 'mmd',
    label: 'MMD^2 (unbiased, RBF)',
    lowerIsBetter: true,
    score,
    baseline: (s) => score(fresh(s), s),
    description: `unbiased MMD^2 (RBF kernel, bandwidth^2 = median squared distance of the reference) between ${n} samples and ${n} fresh data points`,
  };
}

function swdMetric(n: number, projections: number, reference: SeededSet, fresh: SeededSet): SampleMetric {
  const score = async (x: NDArray, s: number) => {
    const r = slicedWasserstein(x, reference(s), { projections, p: 2, seed: s });
    return { value: r.distance, extra: { projection_se: r.se ?? NaN } };
  };
  return {
    name: 'swd',
    label: 'sliced Wasserstein-2',
    lowerIsBetter: true,
    score,
    baseline: (s) => score(fresh(s), s),
    description: `sliced Wasserstein-2 distance (${projections} random directions) between ${n} samples and ${n} fresh data points`,
  };
}

function logpMetric(n: number, spec: string, fresh: SeededSet): SampleMetric {
  if (!(TOY2D_NAMES as readonly string[]).includes(spec) || !toy2d(spec).logDensity) {
    throw new Error(
      `--metric logp: needs data with a known density (8gaussians, gmm); this model was trained on '${spec}'`,
    );
  }
  const ds = toy2d(spec);
  const score = async (x: NDArray) => {
    const r = meanLogDensity(x, (p) => ds.logDensity!(p));
    return { value: r.mean, extra: { per_sample_se: r.se ?? NaN } };
  };
  return {
    name: 'logp',
    label: 'mean log p_data(sample), nats',
    lowerIsBetter: false,
    score: (x) => score(x),
    baseline: (s) => score(fresh(s)),
    description: `mean exact log-density of ${n} samples under the true '${spec}' distribution (nats); baseline = the same for data (-entropy)`,
  };
}

/** Held-out real digits standing in for samples at seed s: at most n of them, with their labels. */
type HeldOutDigits = (s: number) => { x: NDArray; y: Float32Array };

function heldOutDigits(n: number): { subset: HeldOutDigits; count: number } {
  const held = mnistSplit().heldOut;
  const count = Math.min(n, held.images.shape[0]);
  const subset: HeldOutDigits = (s) => {
    const idx = new Philox(baselineSeed(s)).permutation(held.images.shape[0]).subarray(0, count);
    const x = new NDArray([count, 1, 28, 28]),
      y = new Float32Array(count);
    idx.forEach((i, r) => {
      x.data.set(held.images.data.subarray(i * 784, (i + 1) * 784), r * 784);
      y[r] = held.labels[i];
    });
    return { x, y };
  };
  return { subset, count };
}

/** Samples as the classifier reads them: clamped to [-1, 1], non-finite values as 0. */
const clampImages = (x: NDArray) => x.map((v) => (Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0));

/** fid-mnist, accuracy and confidence: metrics of 28x28 digit samples through the MNIST classifier. */
async function classifierMetric(
  metric: 'fid-mnist' | 'accuracy' | 'confidence',
  m: LoadedModel,
  o: SampleMetricOptions,
): Promise<SampleMetric> {
  if (!isMnistShaped(m))
    throw new Error(
      `--metric ${metric}: needs 28x28 grayscale digit samples (a model trained on mnist); this model makes [${modelSampleShape(m.model)}]`,
    );
  if (m.info && m.info.data.spec !== 'mnist')
    process.stderr.write(
      `eval: warning: the model was trained on '${m.info.data.spec}', not mnist; the MNIST classifier may not fit it\n`,
    );
  const clf = o.classifier ?? (await loadMnistClassifier());
  const held = heldOutDigits(o.n);
  if (metric === 'fid-mnist') return fidMetric(o.n, clf, held);
  if (metric === 'accuracy') return accuracyMetric(o.n, clf, held.subset);
  const score = async (x: NDArray) => ({ value: confidence((await clf.run(clampImages(x))).probs) });
  return {
    name: metric,
    label: 'classifier confidence',
    lowerIsBetter: false,
    score: (x) => score(x),
    baseline: (s) => score(held.subset(s).x),
    description: `mean top-class probability of the MNIST classifier on ${o.n} samples; baseline = the same on held-out real digits`,
  };
}

function fidMetric(n: number, clf: MnistClassifier, held: { subset: HeldOutDigits; count: number }): SampleMetric {
  const score = async (x: NDArray) => {
    const { probs, features } = await clf.run(clampImages(x));
    const fid = frechetDistance(gaussianStats(features.data, FEATURE_DIM), await mnistReferenceStats(clf));
    return { value: fid, extra: { confidence: confidence(probs) } };
  };
  return {
    name: 'fid-mnist',
    label: 'FID-MNIST',
    lowerIsBetter: true,
    score: (x) => score(x),
    baseline: (s) => score(held.subset(s).x),
    description: `Fréchet distance of the MNIST classifier's ${FEATURE_DIM} penultimate features: ${n} samples vs its 8000 training digits; baseline = ${held.count} held-out real digits`,
  };
}

function accuracyMetric(n: number, clf: MnistClassifier, heldSubset: HeldOutDigits): SampleMetric {
  const score = async (x: NDArray, labels?: Float32Array) => {
    if (!labels)
      throw new Error(
        '--metric accuracy: needs a class-conditional model (samples with requested labels); use confidence or fid-mnist',
      );
    const { probs } = await clf.run(clampImages(x));
    return { value: clf.accuracy(probs, labels), extra: { confidence: confidence(probs) } };
  };
  return {
    name: 'accuracy',
    label: 'class accuracy',
    lowerIsBetter: false,
    score: (x, _s, labels) => score(x, labels),
    baseline: (s) => {
      const h = heldSubset(s);
      return score(h.x, h.y);
    },
    description: `fraction of ${n} class-conditional samples the MNIST classifier assigns to their requested digit; baseline = its accuracy on held-out real digits`,
  };
}
