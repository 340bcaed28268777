import { NDArray } from './ndarray.ts';

/**
 * Source of random numbers for every stochastic path in diffuse (no Math.random anywhere).
 * Implementations: `Philox` (counter-based, splittable; identical bits on every platform) and
 * `TorchGenerator` (reproduces torch.manual_seed(s); torch.randn(shape) on the CPU).
 */
export interface RandomGenerator {
  /** Standard normal samples N(0, 1) of the given shape (float32). */
  normal(shape: readonly number[]): NDArray;
  /** Uniform samples in [0, 1) of the given shape (float32). */
  uniform(shape: readonly number[]): NDArray;
}
