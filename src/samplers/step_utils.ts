/**
 * Small helpers shared by the scheduler classes: drawing step noise from the caller's generator,
 * validating timesteps, splitting a [B, 2C, ...] model output into mean and variance channels.
 *
 * @example
 *   const z = drawNoise(x.shape, { generator }, 'DDPMScheduler');
 *   const [eps, v] = splitChannels(out, 3);
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import type { StepOptions } from './scheduler.ts';
import { f32 } from '../engine/f32.ts';

/**
 * Standard-normal noise for a stochastic step, one rule for every scheduler (diffusers' DPM-Solver rule):
 * an explicit `opts.varianceNoise` wins (checked for shape), else one draw of the full shape from
 * `opts.generator` (like diffusers' randn_tensor with one generator), else a clear error (there is no hidden
 * global RNG in diffuse). `why` names what makes the step stochastic in that error.
 * @example drawNoise(x.shape, { generator: new TorchGenerator(0) }, 'DDPMScheduler')
 */
export function drawNoise(
  shape: readonly number[],
  opts: StepOptions,
  owner: string,
  why = 'this step draws noise',
): NDArray {
  if (opts.varianceNoise !== undefined) {
    if (!sameShape(opts.varianceNoise.shape, shape))
      throw new Error(
        `${owner}.step: varianceNoise has shape [${opts.varianceNoise.shape.join(', ')}], expected [${shape.join(', ')}]`,
      );
    return opts.varianceNoise;
  }
  if (!opts.generator)
    throw new Error(
      `${owner}.step: ${why}; pass { generator } or { varianceNoise } (a generator: e.g. new TorchGenerator(seed))`,
    );
  const z = opts.generator.normal(shape);
  if (!sameShape(z.shape, shape))
    throw new Error(
      `${owner}.step: generator.normal returned shape [${z.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  return z;
}

/** Throw unless t is an integer training timestep in [0, T). Returns t. */
export function stepTimestep(t: number, T: number, owner: string): number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= T) {
    throw new Error(`${owner}.step: timestep = ${t} must be an integer in [0, ${T - 1}] (one of scheduler.timesteps)`);
  }
  return t;
}

/** Split x of shape [B, 2C, ...] along dim 1 into two [B, C, ...] arrays (torch.split(x, C, dim=1)). */
export function splitChannels(x: NDArray, c: number): [NDArray, NDArray] {
  const [B, C2, ...rest] = x.shape;
  const inner = rest.reduce((p, d) => p * d, 1);
  const shape = [B, c, ...rest];
  const a = new NDArray(shape),
    b = new NDArray(shape);
  for (let bi = 0; bi < B; bi++) {
    const src = bi * C2 * inner;
    a.data.set(x.data.subarray(src, src + c * inner), bi * c * inner);
    b.data.set(x.data.subarray(src + c * inner, src + 2 * c * inner), bi * c * inner);
  }
  return [a, b];
}

/**
 * out = sum_k c_k * a_k (all the same shape), accumulated in float64 and rounded once to float32: the
 * array update of the exponential-integrator schedulers and the DPM-Solver++ samplers.
 * @example lincomb([[0.5, x], [0.25, eps]])
 */
export function lincomb(terms: ReadonlyArray<readonly [number, NDArray]>): NDArray {
  const first = terms[0][1];
  const n = first.size;
  const acc = new Float64Array(n);
  for (const [c, a] of terms) {
    if (a.size !== n)
      throw new Error(`lincomb: shape [${a.shape.join(', ')}] differs from [${first.shape.join(', ')}]`);
    if (c === 0) continue;
    const d = a.data;
    for (let j = 0; j < n; j++) acc[j] += c * d[j];
  }
  const out = new NDArray(first.shape);
  out.data.set(acc);
  return out;
}

/** sqrt((1 - abar_0) / abar_0) in float32: diffusers' final sigma for final_sigmas_type = 'sigma_min'
 * (Euler and the DPM-Solver family). @example trainingSigmaMin(scheduler.alphasCumprod) */
export function trainingSigmaMin(alphasCumprod: Float32Array): number {
  const a = alphasCumprod[0];
  // sigma_min = sqrt((1 - abar_0) / abar_0)
  return f32(Math.sqrt(f32(f32(1 - a) / a)));
}
