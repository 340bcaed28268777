/**
 * Noise levels sigma of the variance-exploding view x_t / sqrt(alphaBar_t) = x_0 + sigma_t * eps, with
 * sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t) (Karras et al. 2022, "EDM", Table 1, VP column), and the
 * sigma schedules used by k-diffusion-style samplers.
 *
 * @example
 *   const sigmas = sigmasFromAlphasCumprod(alphasCumprod);              // float32, ascending in t
 *   const ks = karrasSigmas(sigmas[0], sigmas[sigmas.length - 1], 10);  // EDM eq. (5), rho = 7
 *   const t = sigmaToT(ks[3], logSigmas(sigmas));                       // fractional timestep
 */
import { f32, npLinspace } from './numerics.ts';

/**
 * sigma_t = sqrt((1 - alphaBar_t) / alphaBar_t), in float32 like diffusers' torch expression.
 * @example sigmasFromAlphasCumprod(Float32Array.of(0.9999, 0.5))
 */
export function sigmasFromAlphasCumprod(alphasCumprod: ArrayLike<number>): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) {
    const a = alphasCumprod[i];
    out[i] = f32(Math.sqrt(f32(f32(1 - a) / a)));
  }
  return out;
}

/**
 * Natural log of each sigma, float32 like `np.log` on a float32 array.
 * @example logSigmas(Float32Array.of(1, Math.E))  // [0, 1]
 */
export function logSigmas(sigmas: ArrayLike<number>): Float32Array {
  const out = new Float32Array(sigmas.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.log(sigmas[i]);
  return out;
}

/**
 * Map a noise level back to a (fractional) training timestep by linear interpolation in log-sigma between
 * the two neighbouring training sigmas, clamped to [0, T-1] (diffusers' `_sigma_to_t`, k-diffusion's
 * `DiscreteSchedule.sigma_to_t`). `logSigmasTable` is ascending (index = timestep), float32.
 *
 * Numerics follow diffusers' set_timesteps, which calls `_sigma_to_t` on one float64 NumPy scalar at a time
 * against the float32 table: NumPy 1.x value-based casting rounds log(sigma) to float32 and does the
 * comparisons and the weight w in float32; the final (1 - w) * low + w * high is float64 (NumPy path) or
 * float32 (`float32Time`, the path KDPM2DiscreteScheduler takes through torch tensors). This matters at the
 * ends of the table: the first Karras / exponential sigma maps to exactly T - 1, not T - 1 - 2e-6 (which
 * `.astype(int64)` would truncate to T - 2). The one sigma -> timestep map of all schedulers.
 * @example sigmaToT(sigmas[500], logSigmas(sigmas))  // 500
 */
export function sigmaToT(sigma: number, logSigmasTable: ArrayLike<number>, float32Time = false): number {
  const n = logSigmasTable.length;
  const logSigma = f32(Math.log(Math.max(sigma, 1e-10)));
  // low index = argmax of cumsum(logSigma >= logSigmas[i]): the last i with logSigmas[i] <= logSigma
  // (0 if none), clipped to n - 2; the difference is a float32 (value-based casting)
  let lowIdx = 0;
  for (let i = 0; i < n; i++) if (f32(logSigma - logSigmasTable[i]) >= 0) lowIdx = i;
  lowIdx = Math.min(lowIdx, n - 2);
  const highIdx = lowIdx + 1;
  const low = logSigmasTable[lowIdx],
    high = logSigmasTable[highIdx];
  let w = f32(f32(low - logSigma) / f32(low - high));
  w = Math.min(Math.max(w, 0), 1);
  if (float32Time) return f32(f32(f32(1 - w) * lowIdx) + f32(w * highIdx));
  return f32(1 - w) * lowIdx + w * highIdx;
}

/**
 * Karras et al. (2022) noise levels, eq. (5): sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
 * i = 0..n-1, descending, float64. (No trailing zero: append it where a sampler needs it.)
 * @example karrasSigmas(0.0292, 14.6146, 10)  // [14.6146, ..., 0.0292]
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7.0): Float64Array {
  const ramp = npLinspace(0, 1, n);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
}

/**
 * Exponential schedule (k-diffusion `get_sigmas_exponential`): log-sigma evenly spaced from log(sigma_max)
 * to log(sigma_min), n values, float64.
 * @example exponentialSigmas(0.0292, 14.6146, 10)
 */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): Float64Array {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
}

/**
 * Steps uniform in lambda = log(alpha_t / sigma_t) (half log-SNR), the time-step schedule of
 * DPM-Solver (Lu et al. 2022, sec. 3.3, "uniform logSNR"): n values evenly spaced from `first` to
 * `last`, float64 (diffusers' `_convert_to_lu`, which evaluates it as a rho = 1 Karras ramp).
 * @example luLambdas(-4.5, 3.6, 10)  // 10 evenly spaced values from -4.5 to 3.6
 */
export function luLambdas(first: number, last: number, n: number): Float64Array {
  const ramp = npLinspace(0, 1, n);
  return ramp.map((r) => first + r * (last - first));
}

/**
 * Beta-distribution sigma schedule (Lee et al. 2024, "Beta Sampling is All You Need"):
 * sigma_i = sigma_min + ppf_{Beta(alpha, beta)}(1 - i/(n-1)) * (sigma_max - sigma_min), float64.
 * @example betaSigmas(0.0292, 14.6146, 10)  // descending from 14.6146 to 0.0292
 */
export function betaSigmas(sigmaMin: number, sigmaMax: number, n: number, alpha = 0.6, beta = 0.6): Float64Array {
  const ramp = npLinspace(0, 1, n);
  return ramp.map((r) => sigmaMin + betaPpf(1 - r, alpha, beta) * (sigmaMax - sigmaMin));
}

// ---- Beta distribution quantile (for betaSigmas) ----

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1,
    d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta function I_x(a, b). */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lbt) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lbt) * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Quantile of Beta(a, b): the x with I_x(a, b) = p (bisection to full double precision). */
export function betaPpf(p: number, a: number, b: number): number {
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let lo = 0,
    hi = 1;
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (betaCdf(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Append a final value (e.g. 0) to a sigma array, as float32 (diffusers' `np.concatenate([...]).astype(np.float32)`). */
export function appendFinalSigma(sigmas: ArrayLike<number>, last: number): Float32Array {
  const out = new Float32Array(sigmas.length + 1);
  out.set(Array.from(sigmas));
  out[sigmas.length] = last;
  return out;
}
