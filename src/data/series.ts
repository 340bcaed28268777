/**
 * 1D series as training data: overlapping windows of a long series, each window one sample
 * (torch.Tensor.unfold(0, window, stride) semantics: windows start at 0, stride, 2 stride, ...;
 * count = floor((L - window) / stride) + 1), standardised with the series' mean and std.
 *
 * @example
 *   const s = loadSeries('data/temperature.csv', { column: 'temp', window: 32, stride: 4 });
 *   s.windows          // [numWindows, 32] z-scores
 *   s.scaler.inverse(samples)
 */
import { NDArray } from '../engine/ndarray.ts';
import { readCsv } from '../io/csv.ts';
import { StandardScaler } from './standardize.ts';

/**
 * Windows [numWindows, window] of a series (torch unfold).
 * @example seriesWindows([1, 2, 3, 4, 5], { window: 3, stride: 2 }).toArray() // [1, 2, 3, 3, 4, 5]
 */
export function seriesWindows(
  series: ArrayLike<number> | NDArray,
  options: { window: number; stride?: number },
): NDArray {
  const s = series instanceof NDArray ? series.data : series;
  if (series instanceof NDArray && series.ndim !== 1)
    throw new Error(`seriesWindows: series shape [${series.shape.join(', ')}] is not 1D`);
  const { window } = options;
  const stride = options.stride ?? 1;
  if (!Number.isInteger(window) || window < 1)
    throw new Error(`seriesWindows: window = ${window} must be a positive integer`);
  if (!Number.isInteger(stride) || stride < 1)
    throw new Error(`seriesWindows: stride = ${stride} must be a positive integer`);
  if (s.length < window)
    throw new Error(`seriesWindows: the series has ${s.length} values, shorter than one window of ${window}`);
  const count = Math.floor((s.length - window) / stride) + 1;
  const out = new NDArray([count, window]);
  for (let i = 0; i < count; i++) for (let j = 0; j < window; j++) out.data[i * window + j] = s[i * stride + j];
  return out;
}

export interface SeriesData {
  /** [numWindows, window] standardised windows. */
  windows: NDArray;
  /** The whole series as read (float32). */
  series: Float32Array;
  /** Scalar scaler (mean/std of the series); inverse() works on any [..., window] array. */
  scaler: {
    transform(x: NDArray): NDArray;
    inverse(z: NDArray): NDArray;
    mean: number;
    std: number;
    toJSON(): { mean: number; std: number };
  };
}

/**
 * Standardises a series (one mean and std for all values) and cuts it into windows.
 * @example const { windows } = seriesFromArray(values, { window: 16 });
 */
export function seriesFromArray(
  values: ArrayLike<number>,
  options: { window: number; stride?: number; standardize?: boolean },
): SeriesData {
  const series = Float32Array.from(values);
  for (let i = 0; i < series.length; i++)
    if (!Number.isFinite(series[i])) throw new Error(`series: value ${i} is ${series[i]}; the series must be finite`);
  const fitted =
    (options.standardize ?? true) && series.length > 0
      ? StandardScaler.fit(new NDArray([series.length, 1], series))
      : new StandardScaler([0], [1]);
  const mean = fitted.mean[0],
    std = fitted.std[0];
  const scaler = {
    mean,
    std,
    transform: (x: NDArray) => x.map((v) => (v - mean) / std),
    inverse: (z: NDArray) => z.map((v) => v * std + mean),
    toJSON: () => ({ mean, std }),
  };
  const windows = scaler.transform(seriesWindows(series, options));
  return { windows, series, scaler };
}

/**
 * Reads a series from one column of a numeric CSV (the only column, or `column` by name/index).
 * @example loadSeries('data/ecg.csv', { window: 64, stride: 8 })
 */
export function loadSeries(
  path: string,
  options: { column?: string | number; window: number; stride?: number; standardize?: boolean },
): SeriesData {
  const t = readCsv(path, options.column !== undefined ? { columns: [options.column] } : {});
  const cols = t.data.shape[1];
  if (cols !== 1) {
    const names = t.columns ? t.columns.map((c) => JSON.stringify(c)).join(', ') : `0..${cols - 1}`;
    throw new Error(`series ${path}: the file has ${cols} columns (${names}); choose one with the column option`);
  }
  return seriesFromArray(t.data.data, options);
}
