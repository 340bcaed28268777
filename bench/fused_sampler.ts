/**
 * Lever "several sampler steps per ONNX Runtime run" (issue 6), for the mlp-2d sampling workload:
 * k deterministic DDIM steps (Song et al. 2021, eq. (12) with eta = 0) traced into one graph with
 * the model inlined k times, so the sample stays inside ONNX Runtime for k steps instead of going
 * back to JS after every model call.
 *
 * Per step, x_prev = c1 x + c2 eps(x, t) with c1 = sqrt(abar_prev / abar_t) and
 * c2 = sqrt(1 - abar_prev) - sqrt(abar_prev (1 - abar_t) / abar_t) — DDIM eq. (12) with the predicted
 * x0 substituted (no clipping: the workload runs DDIM with clip_sample = false). The coefficients are
 * formed in float64 and fed per run, so one graph serves every chunk of k steps. Bench-only: the
 * library's sampling loop is src/pipelines/generate.ts.
 *
 * @example
 *   const run = await fusedDdimSampler(model, params, scheduler, 10000, 20, 5, { intraOpNumThreads: 1 });
 *   const x0 = await run(noise);
 */
import {
  NDArray,
  add,
  broadcastTo,
  compile,
  mul,
  reshape,
  slice,
  type SessionOptions,
  type Value,
} from '../src/engine/index.ts';
import type { DiffusionModel } from '../src/models/registry.ts';
import { withParams } from '../src/nn/module.ts';
import type { DDIMScheduler } from '../src/samplers/ddim.ts';
import { trace } from '../src/engine/index.ts';

export async function fusedDdimSampler(
  model: DiffusionModel,
  params: Record<string, NDArray>,
  scheduler: DDIMScheduler,
  n: number,
  steps: number,
  k: number,
  session: SessionOptions,
): Promise<(noise: NDArray) => Promise<NDArray>> {
  if (steps % k !== 0) throw new Error(`fusedDdimSampler: ${steps} steps are not a multiple of ${k} steps per run`);
  scheduler.setTimesteps(steps);
  const ts = Array.from(scheduler.timesteps);
  const abar = scheduler.alphasCumprod;
  const coef = new Float32Array(steps * 3);
  ts.forEach((t, i) => {
    const at = abar[t],
      ap = i + 1 < ts.length ? abar[ts[i + 1]] : scheduler.finalAlphaCumprod;
    coef.set([t, Math.sqrt(ap / at), Math.sqrt(1 - ap) - Math.sqrt((ap * (1 - at)) / at)], 3 * i);
  });
  const D = (model.config as { in_channels: number }).in_channels;
  const graph = trace(
    (x: Value, c: Value) =>
      withParams(model, params, () => {
        for (let i = 0; i < k; i++) {
          const row = (j: number): Value => reshape(slice(c, [i, j], [i + 1, j + 1], [0, 1]), []);
          const eps = model.forward(x, broadcastTo(row(0), [n]));
          x = add(mul(x, row(1)), mul(eps, row(2)));
        }
        return x;
      }),
    [
      { name: 'x', shape: [n, D] },
      { name: 'coef', shape: [k, 3] },
    ],
  );
  const exe = await compile(graph, session);
  return async (noise) => {
    let x = noise;
    for (let s = 0; s < steps; s += k)
      [x] = await exe.run({ x, coef: new NDArray([k, 3], coef.slice(3 * s, 3 * (s + k))) });
    return x;
  };
}
