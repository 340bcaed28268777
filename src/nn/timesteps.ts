/**
 * Sinusoidal timestep embedding (Vaswani et al. 2017, section 3.5, as used for the diffusion step in
 * Ho et al. 2020, appendix B), with diffusers' `get_timestep_embedding` semantics:
 *
 *   half = floor(dim / 2),  freq_i = exp(-ln(maxPeriod) i / (half - downscaleFreqShift)),  i = 0..half-1
 *   emb = [sin(scale t freq), cos(scale t freq)]   (or [cos, sin] with flipSinToCos)
 *
 * and a zero column appended when `dim` is odd. The frequencies are computed on the host in float32,
 * step by step as torch does (float32 arange times float32(-ln maxPeriod), divided, then exp).
 *
 * @example
 *   const e = getTimestepEmbedding(t, 32, { flipSinToCos: true, downscaleFreqShift: 0 });   // t ['batch'] -> ['batch', 32]
 */
import { NDArray, concat, constant, cos, f32, mul, pad, reshape, sin, type Value } from '../engine/index.ts';
import { Module } from './module.ts';

export interface SinusoidalEmbeddingOptions {
  /** Order [cos, sin] instead of [sin, cos] (default false, as diffusers' function; UNet2DModel passes true). */
  flipSinToCos?: boolean;
  /** Controls the spacing of the frequencies (default 1, as diffusers' function; UNet2DModel's freq_shift is 0). */
  downscaleFreqShift?: number;
  /** Multiplies t freq (default 1). */
  scale?: number;
  /** Longest period (default 10000). */
  maxPeriod?: number;
}

function checkOptions(dim: number, o: SinusoidalEmbeddingOptions): Required<SinusoidalEmbeddingOptions> {
  if (!Number.isInteger(dim) || dim < 2) throw new Error(`timestep embedding: dim must be an integer >= 2, got ${dim}`);
  const r = {
    flipSinToCos: o.flipSinToCos ?? false,
    downscaleFreqShift: o.downscaleFreqShift ?? 1,
    scale: o.scale ?? 1,
    maxPeriod: o.maxPeriod ?? 10000,
  };
  if (!(r.maxPeriod > 0)) throw new Error(`timestep embedding: maxPeriod must be > 0, got ${r.maxPeriod}`);
  if (!Number.isFinite(r.scale)) throw new Error(`timestep embedding: scale must be finite, got ${r.scale}`);
  if (Math.floor(dim / 2) - r.downscaleFreqShift === 0) {
    throw new Error(
      `timestep embedding: dim ${dim} with downscaleFreqShift ${r.downscaleFreqShift} divides by zero (half - shift = 0)`,
    );
  }
  return r;
}

/** The `floor(dim/2)` frequencies freq_i in float32, rounded step by step like torch. @example timestepFrequencies(4, { downscaleFreqShift: 0 }) // [1, 0.01] */
export function timestepFrequencies(dim: number, opts: SinusoidalEmbeddingOptions = {}): Float32Array {
  const o = checkOptions(dim, opts);
  const half = Math.floor(dim / 2);
  // freq_i = exp(-log(max_period) i / (half - downscale_freq_shift)), float32 like torch
  const a = f32(-Math.log(o.maxPeriod));
  const d = f32(half - o.downscaleFreqShift);
  const f = new Float32Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.exp(f32(f32(a * i) / d));
  return f;
}

/** Sinusoidal embedding of timesteps `t` (shape [n], float32) -> [n, dim]. */
export function getTimestepEmbedding(t: Value, dim: number, opts: SinusoidalEmbeddingOptions = {}): Value {
  if (t.rank !== 1)
    throw new Error(`timestep embedding: timesteps must be a 1-D array [batch], got shape [${t.shape.join(', ')}]`);
  const o = checkOptions(dim, opts);
  const freqs = timestepFrequencies(dim, o);
  const half = freqs.length;
  let arg = mul(reshape(t, [t.shape[0], 1]), constant(new NDArray([1, half], freqs)));
  if (o.scale !== 1) arg = mul(arg, o.scale);
  const s = sin(arg),
    c = cos(arg);
  const emb = o.flipSinToCos ? concat([c, s], 1) : concat([s, c], 1);
  return dim % 2 === 1 ? pad(emb, [0, 0, 0, 1]) : emb;
}

/**
 * The parameter-free module form (diffusers `Timesteps(num_channels, flip_sin_to_cos, downscale_freq_shift, scale)`).
 *
 * @example const timeProj = new Timesteps(32, { flipSinToCos: true, downscaleFreqShift: 0 }); const e = timeProj.forward(t);
 */
export class Timesteps extends Module {
  readonly options: Required<SinusoidalEmbeddingOptions>;
  constructor(
    readonly numChannels: number,
    opts: SinusoidalEmbeddingOptions = {},
  ) {
    super();
    this.options = checkOptions(numChannels, opts);
  }

  forward(t: Value): Value {
    return getTimestepEmbedding(t, this.numChannels, this.options);
  }
}
