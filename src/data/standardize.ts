/**
 * Per-column standardisation z = (x - mean) / std, stored so that samples can be mapped back
 * (scikit-learn StandardScaler conventions: population std (ddof = 0); a column with std 0 gets
 * scale 1, as sklearn's `_handle_zeros_in_scale`). Statistics are computed in float64.
 *
 * @example
 *   const scaler = StandardScaler.fit(table);      // table [N, D]
 *   const z = scaler.transform(table);             // train on z
 *   const x = scaler.inverse(samples);             // back to data units
 *   fs.writeFileSync('data_stats.json', JSON.stringify(scaler.toJSON()));
 */
import type { NDArray } from '../engine/ndarray.ts';

/** JSON form of a StandardScaler (for checkpoints). */
export interface StandardScalerJSON {
  mean: number[];
  std: number[];
  columns?: string[] | null;
}

export class StandardScaler {
  readonly mean: Float64Array;
  readonly std: Float64Array;
  readonly columns: string[] | null;

  constructor(mean: ArrayLike<number>, std: ArrayLike<number>, columns: readonly string[] | null = null) {
    if (mean.length !== std.length || mean.length === 0)
      throw new Error(
        `StandardScaler: mean has ${mean.length} values and std ${std.length}; they must have the same non-zero length`,
      );
    if (columns && columns.length !== mean.length)
      throw new Error(`StandardScaler: ${columns.length} column names for ${mean.length} columns`);
    for (let j = 0; j < mean.length; j++) {
      if (!Number.isFinite(mean[j])) throw new Error(`StandardScaler: mean[${j}] = ${mean[j]} is not finite`);
      if (!(Number.isFinite(std[j]) && std[j] > 0))
        throw new Error(`StandardScaler: std[${j}] = ${std[j]} must be a finite number > 0`);
    }
    this.mean = Float64Array.from(mean);
    this.std = Float64Array.from(std);
    this.columns = columns ? [...columns] : null;
  }

  get dim(): number {
    return this.mean.length;
  }

  /**
   * Fits mean and population std per column of x [N, D] (N >= 1). Non-finite values are rejected.
   * @example StandardScaler.fit(NDArray.from([[1], [3]])).std[0] // 1
   */
  static fit(x: NDArray, columns: readonly string[] | null = null): StandardScaler {
    if (x.ndim !== 2 || x.shape[0] < 1 || x.shape[1] < 1)
      throw new Error(`StandardScaler.fit: data shape [${x.shape.join(', ')}] is not [N, D] with N, D >= 1`);
    const [n, d] = x.shape;
    const mean = new Float64Array(d),
      v = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const a = x.data[i * d + j];
        if (!Number.isFinite(a))
          throw new Error(
            `StandardScaler.fit: row index ${i} (0-based), column ${columns ? JSON.stringify(columns[j]) : `index ${j}`} is ${a}; data must be finite`,
          );
        mean[j] += a;
      }
    }
    for (let j = 0; j < d; j++) mean[j] /= n;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) v[j] += (x.data[i * d + j] - mean[j]) ** 2;
    const std = Array.from(v, (s) => {
      const sd = Math.sqrt(s / n);
      return sd > 0 && Number.isFinite(sd) ? sd : 1;
    });
    return new StandardScaler(mean, std, columns);
  }

  private check(x: NDArray, where: string): void {
    const d = this.dim;
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== d)
      throw new Error(`StandardScaler.${where}: data shape [${x.shape.join(', ')}] does not end in ${d} columns`);
  }

  /** (x - mean) / std along the last axis. @example scaler.transform(x) */
  transform(x: NDArray): NDArray {
    this.check(x, 'transform');
    const d = this.dim;
    return x.map((v, i) => (v - this.mean[i % d]) / this.std[i % d]);
  }

  /** z * std + mean along the last axis. @example scaler.inverse(samples) */
  inverse(z: NDArray): NDArray {
    this.check(z, 'inverse');
    const d = this.dim;
    return z.map((v, i) => v * this.std[i % d] + this.mean[i % d]);
  }

  /** @example JSON.stringify(scaler.toJSON()) */
  toJSON(): StandardScalerJSON {
    return { mean: Array.from(this.mean), std: Array.from(this.std), columns: this.columns };
  }

  /** Validating inverse of toJSON. @example StandardScaler.fromJSON(JSON.parse(text)) */
  static fromJSON(o: unknown): StandardScaler {
    const j = o as StandardScalerJSON;
    if (!j || typeof j !== 'object' || !Array.isArray(j.mean) || !Array.isArray(j.std)) {
      throw new Error(
        `StandardScaler.fromJSON: expected {mean: number[], std: number[], columns?}, got ${JSON.stringify(o)?.slice(0, 80)}`,
      );
    }
    if (j.columns != null && (!Array.isArray(j.columns) || !j.columns.every((c) => typeof c === 'string'))) {
      throw new Error('StandardScaler.fromJSON: columns must be an array of strings or null');
    }
    return new StandardScaler(j.mean, j.std, j.columns ?? null);
  }
}
