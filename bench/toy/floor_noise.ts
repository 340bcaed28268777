/**
 * How noisy is the data-vs-data floor of the biased MMD^2 at n = 2000? For each toy set: 8 fresh sets against one
 * reference, at kernel length scales 1, 1/4, 1/8 and 1/16 of the median pairwise distance; prints the mean and the
 * coefficient of variation (docs/toy/recipe.md, "How quality is scored").
 *
 *   nice -n 10 npx tsx bench/toy/floor_noise.ts
 */
import { openDataSource } from '../../src/data/data_source.ts';
import { mmdRbfBiased } from '../../src/eval/metrics/mmd_ratio.ts';
import { medianSqDistance } from '../../src/eval/metrics/mmd.ts';

for (const data of ['8gaussians', 'checkerboard', 'moons', 'swissroll', 'circles']) {
  const src = openDataSource(data, { batchSize: 1, seed: 0 });
  const ref = src.reference(2000, 1000);
  const h0 = medianSqDistance(ref, ref);
  const sets = Array.from({ length: 8 }, (_, s) => src.reference(2000, 5000 + s));
  for (const f of [1, 1 / 16, 1 / 64, 1 / 256]) {
    const vals = sets.map((x) => mmdRbfBiased(x, ref, h0 * f));
    const m = vals.reduce((a, b) => a + b) / vals.length,
      sd = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / (vals.length - 1));
    console.log(
      `${data.padEnd(13)} length scale 1/${Math.round(1 / Math.sqrt(f))}  mean ${m.toExponential(2)}  cv ${(sd / m).toFixed(2)}  min ${Math.min(...vals).toExponential(2)}  max ${Math.max(...vals).toExponential(2)}`,
    );
  }
}
