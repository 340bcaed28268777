/**
 * Keeping predicted x_0 in range: static clipping (`clip_sample`) and dynamic thresholding
 * (Saharia et al. 2022, "Imagen", sec. 2.3 and Fig. A.4): per sample, s = the `ratio` percentile of
 * |x_0|, clamped to [1, sampleMaxValue]; then x_0 <- clamp(x_0, -s, s) / s.
 *
 * @example
 *   clipSample(x0, 1.0);                    // clamp to [-1, 1]
 *   dynamicThreshold(x0, 0.995, 1.0);       // Imagen dynamic thresholding
 */
import { NDArray } from '../engine/ndarray.ts';
import { f32 } from '../engine/f32.ts';

/** Clamp every value to [-range, range] (diffusers' `clip_sample` / `clip_sample_range`). @example clipSample(x0, 1) */
export function clipSample(x: NDArray, range = 1.0): NDArray {
  if (!(range > 0)) throw new Error(`clipSample: clip_sample_range = ${range} must be > 0`);
  const r = f32(range);
  return x.map((v) => (v < -r ? -r : v > r ? r : v));
}

/**
 * `torch.quantile(values, q)` with linear interpolation, in float32 like PyTorch: rank = q * (n - 1),
 * lerp between the neighbouring order statistics.
 * @example quantileF32(Float32Array.of(3, 1, 2), 0.5)  // 2
 */
export function quantileF32(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile: q = ${q} must be in [0, 1]`);
  const sorted = Float32Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return NaN;
  if (Number.isNaN(sorted[n - 1])) return NaN;
  const rank = f32(f32(q) * (n - 1));
  const below = Math.trunc(rank);
  const above = Math.ceil(rank);
  const w = f32(rank - below);
  const lo = sorted[below],
    hi = sorted[above];
  const diff = f32(hi - lo);
  // torch.lerp: weight < 0.5 ? lo + w (hi - lo) : hi - (hi - lo)(1 - w)
  return Math.abs(w) < 0.5 ? f32(lo + w * diff) : f32(hi - diff * f32(1 - w));
}

/**
 * Dynamic thresholding (Imagen, Saharia et al. 2022, sec. 2.3): for each batch element, s = quantile(|x_0|, ratio)
 * clamped to [1, sampleMaxValue], then clamp(x_0, -s, s) / s. Same as diffusers' `_threshold_sample`.
 * @example dynamicThreshold(x0, 0.995, 1.5)
 */
export function dynamicThreshold(x: NDArray, ratio = 0.995, sampleMaxValue = 1.0): NDArray {
  if (x.ndim < 2) throw new Error(`dynamicThreshold: expected a batch [B, C, ...], got shape [${x.shape.join(', ')}]`);
  if (!(ratio >= 0 && ratio <= 1))
    throw new Error(`dynamicThreshold: dynamic_thresholding_ratio = ${ratio} must be in [0, 1]`);
  const B = x.shape[0];
  const per = x.size / B;
  const out = new NDArray(x.shape);
  const maxV = f32(sampleMaxValue);
  for (let b = 0; b < B; b++) {
    const row = x.data.subarray(b * per, (b + 1) * per);
    const abs = new Float32Array(per);
    for (let i = 0; i < per; i++) abs[i] = Math.abs(row[i]);
    let s = quantileF32(abs, ratio);
    s = Math.min(Math.max(s, 1), maxV); // "we threshold to [-s, s] only when s > 1"
    for (let i = 0; i < per; i++) {
      const v = row[i];
      out.data[b * per + i] = (v < -s ? -s : v > s ? s : v) / s;
    }
  }
  return out;
}
