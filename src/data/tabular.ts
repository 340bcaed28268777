/**
 * A CSV of numeric columns as a training set: rows are samples, columns features, standardised per
 * column (StandardScaler) so a model trains on z-scores; the scaler maps samples back to data units.
 *
 * @example
 *   const t = loadTabular('data/wine.csv', { columns: ['alcohol', 'acidity'] });
 *   t.data            // [N, 2] z-scores
 *   t.scaler.inverse(samples)
 */
import type { NDArray } from '../engine/ndarray.ts';
import { readCsv, type CsvReadOptions } from '../io/csv.ts';
import { StandardScaler } from './standardize.ts';

export interface TabularOptions {
  /** Keep only these columns (header names or 0-based indices). */
  columns?: readonly (string | number)[];
  /** Header handling (see readCsv; default 'auto'). */
  header?: CsvReadOptions['header'];
  /** Field separator (default ','). */
  delimiter?: string;
  /** Standardise columns (default true); false keeps raw values (scaler is then the identity). */
  standardize?: boolean;
}

export interface TabularData {
  /** [N, D] standardised (or raw) values. */
  data: NDArray;
  /** [N, D] values as read. */
  raw: NDArray;
  /** Column names (header, or "0", "1", ... without one). */
  columns: string[];
  /** The per-column scaler; inverse() maps model outputs back. */
  scaler: StandardScaler;
}

/**
 * Standardises an in-memory table [N, D].
 * @example const { data, scaler } = tabularFromArray(x);
 */
export function tabularFromArray(raw: NDArray, columns?: readonly string[] | null, standardize = true): TabularData {
  if (raw.ndim !== 2 || raw.shape[0] < 1 || raw.shape[1] < 1)
    throw new Error(`tabular: data shape [${raw.shape.join(', ')}] is not [N, D] with N, D >= 1`);
  const names = columns ? [...columns] : Array.from({ length: raw.shape[1] }, (_, j) => String(j));
  const scaler = standardize
    ? StandardScaler.fit(raw, names)
    : new StandardScaler(new Float64Array(raw.shape[1]), new Float64Array(raw.shape[1]).fill(1), names);
  return { data: standardize ? scaler.transform(raw) : raw.clone(), raw, columns: names, scaler };
}

/**
 * Reads a numeric CSV file and standardises its columns; errors name file, line and column.
 * @example loadTabular('data/points.csv').data.shape // [N, D]
 */
export function loadTabular(path: string, options: TabularOptions = {}): TabularData {
  const t = readCsv(path, { columns: options.columns, header: options.header, delimiter: options.delimiter });
  if (t.data.shape[0] < 1) throw new Error(`tabular ${path}: the file has a header but no data rows`);
  return tabularFromArray(t.data, t.columns, options.standardize ?? true);
}
