/**
 * Checks around sampling that turn "exit 0 with an all-NaN CSV" into an error naming the cause:
 * non-finite weights before sampling starts, non-finite values after a step (naming the step and
 * timestep), and step options the chosen scheduler would ignore (`eta` on a scheduler without one).
 * No file system here (the playground shares it).
 *
 * @example
 *   checkFiniteWeights(weights, 'runs/a/diffusion_pytorch_model.safetensors');
 *   checkEtaSupported(scheduler, 0.5);
 *   const onStep = nonFiniteGuard(scheduler, 50);   // pass to generate() as onStep
 */
import type { NDArray } from '../engine/index.ts';
import type { Scheduler } from '../samplers/scheduler.ts';

/** Scheduler classes whose step takes `eta` (the DDIM family). */
export const ETA_SCHEDULERS: readonly string[] = ['DDIMScheduler', 'DDIMParallelScheduler'];

/**
 * Refuse an `eta` the scheduler would ignore. @example checkEtaSupported(schedulerFromConfig('EulerDiscreteScheduler'), 0.5) // throws
 */
export function checkEtaSupported(scheduler: Scheduler, eta: number | undefined): void {
  if (eta === undefined) return;
  if (!ETA_SCHEDULERS.includes(scheduler.className)) {
    throw new Error(
      `--eta ${eta}: ${scheduler.className} has no eta (its noise is fixed by the method); use --scheduler ddim for an eta, or leave --eta out`,
    );
  }
}

/** Index and value of the first non-finite entry, or null. */
function firstNonFinite(d: ArrayLike<number>): [number, number] | null {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return [i, d[i]];
  return null;
}

/**
 * Throw (naming the tensor, index and value) when a weight is NaN or infinite: such a model can only
 * produce NaN samples. @example checkFiniteWeights(loaded.weights, 'runs/a')
 */
export function checkFiniteWeights(weights: Record<string, NDArray>, where: string): void {
  for (const [name, a] of Object.entries(weights)) {
    const bad = firstNonFinite(a.data);
    if (bad)
      throw new Error(
        `${where}: weight ${name}[${bad[0]}] = ${bad[1]}; a model with non-finite weights only produces NaN samples (use an earlier checkpoint of the run)`,
      );
  }
}

/**
 * An onStep hook for generate() that throws at the first step whose sample is not finite, naming the
 * step, its timestep and the scheduler. @example generate(model, s, { ..., onStep: nonFiniteGuard(s, 20) })
 */
export function nonFiniteGuard(
  scheduler: Scheduler,
  steps: number,
  next?: (info: { index: number; timestep: number; sample: NDArray }) => void,
) {
  return (info: { index: number; timestep: number; sample: NDArray }): void => {
    const bad = firstNonFinite(info.sample.data);
    if (bad) {
      throw new Error(
        `sampling produced ${bad[1]} at step ${info.index + 1} of ${steps} (timestep ${info.timestep}, ${scheduler.className}): the scheduler config or the model is numerically broken; nothing was written`,
      );
    }
    next?.(info);
  };
}
