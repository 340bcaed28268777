/**
 * Small statistics helpers of the metrics: mean with its standard error, in float64.
 *
 * @example
 *   meanAndStandardError([1, 2, 3]);   // { mean: 2, se: 0.577..., n: 3, std: 1 }
 */

/** A mean, its standard error sd / sqrt(n) (null when n < 2), the sample standard deviation and n. */
export interface MeanSe {
  mean: number;
  se: number | null;
  std: number | null;
  n: number;
}

/**
 * Mean and standard error of the mean (sample standard deviation with Bessel's correction / sqrt(n)).
 * @example meanAndStandardError(Float64Array.of(0.1, 0.3)).se // 0.1
 */
export function meanAndStandardError(values: ArrayLike<number>): MeanSe {
  const n = values.length;
  if (n === 0) return { mean: NaN, se: null, std: null, n: 0 };
  let m = 0;
  for (let i = 0; i < n; i++) m += values[i];
  m /= n;
  if (n < 2) return { mean: m, se: null, std: null, n };
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    s += d * d;
  }
  const std = Math.sqrt(s / (n - 1));
  return { mean: m, se: std / Math.sqrt(n), std, n };
}
