/**
 * Dropout (Srivastava et al. 2014; torch.nn.Dropout): in training, y = x m / (1 - p) with
 * m_i = [u_i >= p], u_i ~ U[0, 1); in inference the identity. diffuse's graphs are traced, so "training"
 * means: the layer runs inside `withDropoutNoise(u, fn)`, which binds one flat float32 Value `u` of
 * uniform draws (a graph input the caller fills from a seeded generator each step, like the diffusion
 * noise); each Dropout with p > 0 takes the next `numel(x)` entries of `u` in call order. Outside
 * `withDropoutNoise` (sampling, export, eval) every Dropout is the identity, so inference graphs carry no
 * dropout at all. `countDropoutNoise(fn)` runs a forward pass and returns how many draws one step needs.
 *
 * @example
 *   const need = countDropoutNoise(() => model.forward(x, t));            // inside a trace; 0 when p = 0
 *   // training graph: input 'dropout_u' [need], filled with rng.uniform([need]) each step
 *   const y = withDropoutNoise(u, () => model.forward(x, t));
 */
import { cast, div, greaterEqual, mul, reshape, slice, type Value } from '../engine/index.ts';
import { Module } from './module.ts';

interface NoiseSource {
  u: Value | null;
  used: number;
}
const sources: NoiseSource[] = [];

/** Run `fn` with dropout active, drawing its masks from the flat uniform noise `u` [N]. Returns fn's result. */
export function withDropoutNoise<T>(u: Value, fn: () => T): T {
  if (u.rank !== 1 || typeof u.shape[0] !== 'number')
    throw new Error(`withDropoutNoise: u must be a flat [N] Value with static N, got [${u.shape.join(', ')}]`);
  const src: NoiseSource = { u, used: 0 };
  sources.push(src);
  try {
    return fn();
  } finally {
    sources.pop();
  }
}

/** Number of uniform draws the Dropout layers with p > 0 take during `fn` (a traced forward pass). */
export function countDropoutNoise(fn: () => unknown): number {
  const src: NoiseSource = { u: null, used: 0 };
  sources.push(src);
  try {
    fn();
  } finally {
    sources.pop();
  }
  return src.used;
}

export class Dropout extends Module {
  constructor(
    readonly p = 0,
    where = 'Dropout',
  ) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1))
      throw new Error(`${where}: dropout probability must be in [0, 1), got ${JSON.stringify(p)}`);
  }

  forward(x: Value): Value {
    const src = sources[sources.length - 1];
    if (!src || this.p === 0) return x;
    const size = x.shape.reduce<number>((a, d) => {
      if (typeof d !== 'number')
        throw new Error(`Dropout.forward: training dropout needs static shapes, got [${x.shape.join(', ')}]`);
      return a * d;
    }, 1);
    const start = src.used;
    src.used += size;
    if (src.u === null) return x; // counting pass
    const N = src.u.shape[0] as number;
    if (src.used > N)
      throw new Error(
        `Dropout.forward: the dropout noise has ${N} draws but this forward pass needs more (use countDropoutNoise to size it)`,
      );
    const u = reshape(slice(src.u, [start], [start + size], [0]), x.shape);
    const keep = cast(greaterEqual(u, this.p), 'float32');
    return div(mul(x, keep), 1 - this.p);
  }
}
