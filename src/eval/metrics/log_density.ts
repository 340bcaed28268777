/**
 * Mean log-density of samples under a known data density (the 8-gaussians and GMM toy sets have one):
 * E_{x ~ model}[log p_data(x)], with its standard error over samples. Its reference value is the same
 * expectation over data, -H(p_data); samples that miss modes or spread into empty space score lower,
 * samples collapsed onto the modes' centres can score higher (the metric rewards precision, not coverage,
 * so read it next to MMD or the sliced Wasserstein distance).
 *
 * @example
 *   const ds = toy2d('8gaussians');
 *   const { mean, se } = meanLogDensity(samples, (x) => ds.logDensity!(x));
 */
import type { NDArray } from '../../engine/index.ts';
import { meanAndStandardError, type MeanSe } from './stats.ts';

/**
 * Mean of log p(x) over the rows of `samples`, with its standard error; non-finite samples count as -Infinity.
 * @example meanLogDensity(x, (pts) => gmm.logDensity(pts)).mean
 */
export function meanLogDensity(samples: NDArray, logDensity: (x: NDArray) => ArrayLike<number>): MeanSe {
  const lp = logDensity(samples);
  if (lp.length !== samples.shape[0])
    throw new Error(`meanLogDensity: the density returned ${lp.length} values for ${samples.shape[0]} samples`);
  return meanAndStandardError(lp);
}
