/** Scores a batch of generated digits [N, 1, 28, 28] in [-1, 1]: filled in once the MNIST classifier lands (src/eval). */
import type { NDArray } from '../../src/engine/index.ts';

export async function scoreDigits(x: NDArray): Promise<Record<string, number>> {
  let mean = 0;
  for (const v of x.data) mean += v;
  return { pixelMean: mean / x.size };
}
