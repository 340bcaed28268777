/**
 * Re-creation of the fixtures of diffusers' scheduler test-suite (tests/schedulers/test_schedulers.py,
 * class SchedulerCommonTest), so that diffusers' published `result_mean` / `result_sum` values can be
 * checked here without PyTorch:
 *   dummy_sample_deter = arange(N).reshape(C, H, W, B) / N, permuted to (B, C, H, W)
 *   dummy_noise_deter  = the same with arange(N) flipped
 *   dummy_model(sample, t) = sample * t / (t + 1)   (float32 ops, in that order)
 * The 1-D variants (B, C, W) come from test_scheduler_unipc.py's UniPCMultistepScheduler1DTest.
 */
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';

const f32 = Math.fround;

/** dummy_sample_deter (flip = false) or dummy_noise_deter (flip = true), shape [B, ...spatial dims]. */
export function dummyDeter(flip = false, shape: readonly number[] = [4, 3, 8, 8]): NDArray {
  const [b, c, ...rest] = shape;
  const spatial = rest.reduce((p, d) => p * d, 1);
  const n = b * c * spatial;
  const out = new NDArray(shape);
  // torch: arange(n).reshape(C, *rest, B) / n, then permute(B first)
  for (let bi = 0; bi < b; bi++) {
    for (let ci = 0; ci < c; ci++) {
      for (let si = 0; si < spatial; si++) {
        const src = (ci * spatial + si) * b + bi; // row-major index in (C, *rest, B)
        const v = flip ? n - 1 - src : src;
        out.data[(bi * c + ci) * spatial + si] = f32(v / n); // int64 / int -> float32 true division
      }
    }
  }
  return out;
}

/** diffusers' dummy_model: sample * t / (t + 1), t cast to the sample dtype (float32). */
export function dummyModel(sample: NDArray, t: number): NDArray {
  const tf = f32(t);
  const den = f32(tf + 1);
  return sample.map((v) => f32(f32(v * tf) / den));
}

/** mean(|x|) and sum(|x|) as diffusers' tests report them. */
export function absMeanSum(x: NDArray): { mean: number; sum: number } {
  let s = 0;
  for (const v of x.data) s += Math.abs(v);
  return { mean: s / x.size, sum: s };
}

/** |got - want| < tol, with a message naming the diffusers test value (their assertion: abs(result - ref) < tol). */
export function closeToPublished(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) < tol, `${what}: got ${got}, diffusers' test expects ${want} (tolerance ${tol})`);
}
