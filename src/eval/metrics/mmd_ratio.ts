/**
 * Sample quality as a ratio to the noise floor: the biased MMD^2 (V-statistic, Gretton et al. 2012,
 * eq. 5: all kernel pairs including i = j) between samples and fresh data, divided by the same estimator
 * between independent fresh data sets of the same size (the floor: what a perfect model scores at this n).
 *
 * Why the biased estimator: the unbiased MMD^2_u (./mmd.ts) of two sets from the same distribution has
 * expectation 0 and takes either sign, so "x times the floor" is not defined for it. The V-statistic has
 * expectation MMD^2 + (1/n + 1/m)(1 - E k(x, x')) > 0, whose second term is the floor; a ratio of 1.3 means
 * the true MMD^2 is 0.3 floors.
 *
 * The kernel is local: sigma = 1/16 of the median pairwise distance of the reference (`lengthScale`). The
 * median heuristic itself (lengthScale 1) sees a blurred sample as near-perfect and, at n = 2000 on the
 * toy sets, its data-vs-data value varies by up to a factor of 40 between draws (coefficient of variation
 * 0.48-0.60); at 1/16 the floor's coefficient of variation is 0.07-0.17 (bench/toy/floor_noise.ts), so a
 * ratio to it is a stable number. The same kernel scores the samples and every floor set.
 *
 * @example
 *   const r = mmdRatio(samples, fresh, [fresh2, fresh3]);
 *   r.ratio;   // ~1 for samples indistinguishable from data
 */
import type { NDArray } from '../../engine/index.ts';
import { medianSqDistance } from './mmd.ts';

function kernelMean(a: NDArray, b: NDArray, h: number, same: boolean): number {
  const n = a.shape[0],
    m = b.shape[0],
    d = a.size / n;
  if (b.size / m !== d) throw new Error(`mmdRatio: point dimensions differ (${d} vs ${b.size / m})`);
  const x = a.data,
    y = b.data,
    s = -1 / (2 * h);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = same ? i + 1 : 0; j < m; j++) {
      let q = 0;
      for (let k = 0; k < d; k++) {
        const t = x[i * d + k] - y[j * d + k];
        q += t * t;
      }
      sum += Math.exp(q * s);
    }
  }
  // same set: off-diagonal pairs twice plus the n diagonal ones (k(x, x) = 1)
  return same ? (2 * sum + n) / (n * n) : sum / (n * m);
}

/** Biased MMD^2 (V-statistic) with an RBF kernel of squared bandwidth h: k(a, b) = exp(-|a - b|^2 / (2 h)). */
export function mmdRbfBiased(x: NDArray, y: NDArray, h: number): number {
  if (x.shape[0] < 1 || y.shape[0] < 1) throw new Error('mmdRbfBiased: need at least 1 point in each set');
  if (!(h > 0)) throw new Error(`mmdRbfBiased: bandwidth must be > 0, got ${h}`);
  return kernelMean(x, x, h, true) + kernelMean(y, y, h, true) - 2 * kernelMean(x, y, h, false);
}

export interface MmdRatio {
  /** Biased MMD^2 of the samples to `reference`. */
  mmd2: number;
  /** Mean biased MMD^2 of each `floorSets` entry to `reference`. */
  floor: number;
  /** mmd2 / floor: 1 = as close to the data as fresh data. */
  ratio: number;
  /** Squared RBF bandwidth used: (lengthScale x median distance of `reference`)^2. */
  bandwidthSq: number;
}

/**
 * Biased MMD^2 of `samples` to `reference` over the mean of the same estimator for fresh data sets
 * (`floorSets`, each independent of `reference`, ideally with as many points as `samples`).
 */
export function mmdRatio(
  samples: NDArray,
  reference: NDArray,
  floorSets: readonly NDArray[],
  o: { lengthScale?: number } = {},
): MmdRatio {
  if (floorSets.length === 0) throw new Error('mmdRatio: need at least one fresh data set for the floor');
  const scale = o.lengthScale ?? 1 / 16;
  if (!(scale > 0)) throw new Error(`mmdRatio: lengthScale must be > 0, got ${scale}`);
  const h = medianSqDistance(reference, reference) * scale * scale;
  const kyy = kernelMean(reference, reference, h, true); // shared by every term
  const v = (x: NDArray) => kernelMean(x, x, h, true) + kyy - 2 * kernelMean(x, reference, h, false);
  const mmd2 = v(samples);
  const floor = floorSets.reduce((s, f) => s + v(f), 0) / floorSets.length;
  return { mmd2, floor, ratio: mmd2 / floor, bandwidthSq: h };
}
