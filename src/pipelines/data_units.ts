/**
 * Samples back in data units: undo the per-column standardisation a model was trained with (CSV
 * tables, 1D series, `train({ standardize: true })`). No file system here (browser-safe).
 *
 * @example
 *   toDataUnits(samples, { data: { scaler: { mean: [10], std: [2] } } })   // x * 2 + 10
 */
import type { NDArray } from '../engine/index.ts';

/** The part of diffuse.json this needs. */
export interface ScaledInfo {
  data: { scaler?: { mean: number[]; std: number[] } };
}

/** x * std + mean per column (last axis); x itself when there is no scaler. */
export function toDataUnits(x: NDArray, info: ScaledInfo | null): NDArray {
  const s = info?.data.scaler;
  if (!s) return x;
  const D = x.shape[x.ndim - 1];
  return x.map((v, i) => {
    const j = s.mean.length === 1 ? 0 : i % D;
    return v * s.std[j] + s.mean[j];
  });
}
