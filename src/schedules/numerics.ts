/**
 * Numeric building blocks that reproduce how diffusers' tables are computed, dtype for dtype.
 *
 * diffusers builds its schedules with a mix of PyTorch float32 tensors and NumPy float64 arrays.
 * To be equal "within float32 rounding" we mirror each of those: float64 where NumPy computes in
 * float64, `Math.fround` after every operation where PyTorch stores float32. A single IEEE operation
 * on two float32 values computed in float64 and rounded once to float32 is bit-identical to the
 * float32 operation (float64 carries more than 2*24+2 bits), so this emulation is exact for + - * / sqrt.
 *
 * @example
 *   npLinspace(0, 999, 4);          // [0, 333, 666, 999] (float64, like np.linspace)
 *   torchLinspaceF32(1e-4, 0.02, 1000); // Float32Array, bit-equal to torch.linspace(..., dtype=float32) on CPU
 */
import { f32 } from '../engine/f32.ts';

/** Round to float32 (PyTorch float32 tensor storage): the engine's one helper, re-exported for the schedules. */
export { f32 };

/** Round half to even, like `np.round` / `np.ndarray.round()` (banker's rounding). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(x); // rounds .5 up
  if (Math.abs(x - Math.trunc(x)) === 0.5) {
    // tie: pick the even neighbour
    const lo = Math.floor(x);
    const even = lo % 2 === 0 ? lo : lo + 1;
    return even === 0 && x < 0 ? -0 : even; // keep the sign of zero, like NumPy
  }
  return r === 0 && x < 0 ? -0 : r;
}

/**
 * `np.linspace(start, stop, num)` in float64: y[i] = i * step + start, last element set to stop
 * (NumPy's exact evaluation order).
 */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  if (!Number.isInteger(num) || num < 0) throw new Error(`npLinspace: num must be a non-negative integer, got ${num}`);
  const out = new Float64Array(num);
  const div = num - 1;
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const delta = stop - start;
  const step = delta / div;
  for (let i = 0; i < num; i++) {
    out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  }
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for float arguments: length ceil((stop - start) / step), values
 * start + i * delta with delta = (start + step) - start (NumPy fills from the first two values).
 */
export function npArange(start: number, stop: number, step = 1): Float64Array {
  if (step === 0) throw new Error('npArange: step must be non-zero');
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(len);
  if (len === 0) return out;
  out[0] = start;
  if (len === 1) return out;
  const delta = start + step - start;
  for (let i = 1; i < len; i++) out[i] = start + i * delta;
  return out;
}

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` as computed by PyTorch's CPU kernel
 * (AVX2 build, 8 floats per vector): step = (end - start) / (steps - 1) in float32; the first half
 * counts up from start, the second half counts down from end; within a vectorised block of 8 the
 * values are base + k * step. Matches PyTorch 1.13 CPU (AVX2 build) bit for bit; other builds and
 * GPUs differ by at most an ulp.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`torchLinspaceF32: steps must be a non-negative integer, got ${steps}`);
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s = f32(start),
    e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // The scalar path start + step * idx is contracted by GCC into one fused multiply-add (one
  // rounding, reproduced by the exact float64 product and a single float32 rounding); the vector
  // path's base + k * step rounds the product first (checked against PyTorch 1.13, AVX2).
  const scalarAt = (idx: number): number => (idx < halfway ? f32(s + step * idx) : f32(e - step * (steps - idx - 1)));
  const VEC = 8;
  let i = 0;
  // cpu_serial_kernel_vec: blocks of 2 vectors, then a scalar tail
  for (; i + 2 * VEC <= steps; i += 2 * VEC) {
    for (let v = 0; v < 2; v++) {
      const idx = i + v * VEC;
      const base = scalarAt(idx);
      for (let k = 0; k < VEC; k++) out[idx + k] = f32(base + f32(k * step));
    }
  }
  for (; i < steps; i++) out[i] = scalarAt(i);
  return out;
}

/**
 * `torch.cumprod` of a float32 tensor on the CPU: accumulates in float64 (PyTorch's CPU acc_type
 * for float) and stores each partial product as float32.
 */
export function cumprodF32(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i];
    out[i] = acc;
  }
  return out;
}

/**
 * `np.interp(x, xp, fp)` (float64), with NumPy's edge handling: clamps outside [xp0, xpN], returns
 * fp[j] exactly when x == xp[j], slope * (x - xp[j]) + fp[j] otherwise.
 */
export function npInterp(x: ArrayLike<number>, xp: ArrayLike<number>, fp: ArrayLike<number>): Float64Array {
  const n = xp.length;
  if (n === 0 || fp.length !== n)
    throw new Error(`npInterp: xp and fp must be non-empty and of equal length (got ${n} and ${fp.length})`);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isNaN(v)) {
      out[i] = v;
      continue;
    }
    if (v >= xp[n - 1]) {
      out[i] = fp[n - 1];
      continue;
    }
    if (v < xp[0]) {
      out[i] = fp[0];
      continue;
    }
    // binary search: xp[j] <= v < xp[j + 1]
    let lo = 0,
      hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (xp[mid] <= v) lo = mid;
      else hi = mid;
    }
    const j = lo;
    if (xp[j] === v) {
      out[i] = fp[j];
      continue;
    }
    const slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    let r = slope * (v - xp[j]) + fp[j];
    if (Number.isNaN(r)) r = slope * (v - xp[j + 1]) + fp[j + 1];
    out[i] = r;
  }
  return out;
}

/** Reverse a typed array into a new one of the same kind. */
export function flip<T extends Float32Array | Float64Array>(a: T): T {
  const out = a.slice() as T;
  out.reverse();
  return out;
}
