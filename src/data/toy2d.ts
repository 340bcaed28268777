/**
 * Toy 2D data sets for low-dimensional diffusion (the `mlp-2d` workload): moons, swiss roll,
 * 8 gaussians, checkerboard, circles, and a Gaussian mixture with exact density.
 *
 * Shapes, scales and noise levels follow FFJORD's toy data (Grathwohl et al. 2019,
 * rtqichen/ffjord lib/toy_data.py `inf_train_gen`), which builds on scikit-learn's generators
 * (`make_moons`, `make_circles`, `make_swiss_roll`). Where those place points on a deterministic
 * grid (sklearn uses linspace angles and exactly n/2 points per component) we draw i.i.d.: the
 * angle uniformly and the component with probability 1/2, which is the distribution the grid
 * approximates. Every `sample(n, generator)` returns an NDArray [n, 2] and consumes the generator
 * in a documented order, so a seed fixes the data bit for bit.
 *
 * @example
 *   const x0 = sampleToy2d('moons', 1000, new Philox(0));     // [1000, 2]
 *   const ds = toy2d('8gaussians');
 *   ds.logDensity!(x0);                                       // exact log p(x) (Float64Array)
 */
import { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
import { GaussianMixture } from '../data/gaussian_mixture.ts';

/** A 2D distribution to sample from (and, where known in closed form, its log density). */
export interface Toy2dDataset {
  readonly name: Toy2dName;
  /** One line: what it is and where the definition comes from. */
  readonly description: string;
  /** n i.i.d. samples, shape [n, 2] (float32). */
  sample(n: number, generator: RandomGenerator): NDArray;
  /** Exact log density per row of x [n, 2] (only for the Gaussian mixtures: '8gaussians', 'gmm'). */
  logDensity?(x: NDArray): Float64Array;
}

export const TOY2D_NAMES = ['moons', 'swissroll', '8gaussians', 'checkerboard', 'circles', 'gmm'] as const;
export type Toy2dName = (typeof TOY2D_NAMES)[number];

function checkN(n: number, name: string): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`toy2d '${name}': n = ${n} must be a non-negative integer`);
}

function checkGenerator(g: RandomGenerator, name: string): void {
  if (!g || typeof g.uniform !== 'function' || typeof g.normal !== 'function') {
    throw new Error(`toy2d '${name}': a RandomGenerator is required (e.g. new Philox(seed))`);
  }
}

function nonNegative(v: number, what: string): number {
  if (!(Number.isFinite(v) && v >= 0)) throw new Error(`toy2d: ${what} = ${v} must be a finite number >= 0`);
  return v;
}

/**
 * Two interleaving half circles (sklearn make_moons): outer (cos t, sin t), inner (1 - cos t, 1/2 - sin t),
 * t ~ U[0, pi], component ~ Bernoulli(1/2), plus N(0, noise^2) per coordinate; then FFJORD's x * 2 + (-1, -0.2).
 * Draws: uniform([n, 2]) (component, angle), then normal([n, 2]).
 * @example moons({ noise: 0.05 }).sample(500, new Philox(1))
 */
export function moons(options: { noise?: number } = {}): Toy2dDataset {
  const noise = nonNegative(options.noise ?? 0.1, 'moons noise');
  return {
    name: 'moons',
    description: `two moons (sklearn make_moons, noise ${noise}; FFJORD scaling x*2 + (-1, -0.2))`,
    sample(n, g) {
      checkN(n, 'moons');
      checkGenerator(g, 'moons');
      const u = g.uniform([n, 2]).data,
        z = g.normal([n, 2]).data;
      const out = new NDArray([n, 2]);
      for (let i = 0; i < n; i++) {
        const t = Math.PI * u[2 * i + 1];
        let x: number, y: number;
        if (u[2 * i] < 0.5) {
          x = Math.cos(t);
          y = Math.sin(t);
        } else {
          x = 1 - Math.cos(t);
          y = 0.5 - Math.sin(t);
        }
        out.data[2 * i] = (x + noise * z[2 * i]) * 2 - 1;
        out.data[2 * i + 1] = (y + noise * z[2 * i + 1]) * 2 - 0.2;
      }
      return out;
    },
  };
}

/**
 * 2D swiss roll (sklearn make_swiss_roll, keeping coordinates x and z as FFJORD does):
 * t = 1.5 pi (1 + 2u), point (t cos t, t sin t) + N(0, noise^2) per coordinate, divided by 5.
 * Draws: uniform([n]) then normal([n, 2]).
 * @example swissRoll({ noise: 0.5 }).sample(1000, new Philox(2))
 */
export function swissRoll(options: { noise?: number } = {}): Toy2dDataset {
  const noise = nonNegative(options.noise ?? 1.0, 'swissroll noise');
  return {
    name: 'swissroll',
    description: `swiss roll (sklearn make_swiss_roll coordinates x, z; noise ${noise}; FFJORD scaling /5)`,
    sample(n, g) {
      checkN(n, 'swissroll');
      checkGenerator(g, 'swissroll');
      const u = g.uniform([n]).data,
        z = g.normal([n, 2]).data;
      const out = new NDArray([n, 2]);
      for (let i = 0; i < n; i++) {
        const t = 1.5 * Math.PI * (1 + 2 * u[i]);
        out.data[2 * i] = (t * Math.cos(t) + noise * z[2 * i]) / 5;
        out.data[2 * i + 1] = (t * Math.sin(t) + noise * z[2 * i + 1]) / 5;
      }
      return out;
    },
  };
}

/** FFJORD's 8 gaussians: unit directions (in its order) scaled by 4, N(0, 0.5^2) noise, everything / 1.414. */
const EIGHT_DIRECTIONS: readonly (readonly [number, number])[] = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
  [Math.SQRT1_2, Math.SQRT1_2],
  [Math.SQRT1_2, -Math.SQRT1_2],
  [-Math.SQRT1_2, Math.SQRT1_2],
  [-Math.SQRT1_2, -Math.SQRT1_2],
];

/**
 * Eight Gaussians on a circle (FFJORD): center = 4 * direction_k, k ~ U{0..7}, x = (center + 0.5 z) / 1.414,
 * i.e. a uniform mixture with means 4/1.414 * direction_k (radius ~ 2 sqrt 2) and std 0.5/1.414; exact density.
 * Draws: uniform([n]) (component), then normal([n, 2]).
 * @example eightGaussians().logDensity!(NDArray.from([[2.83, 0]]))
 */
export function eightGaussians(): Toy2dDataset {
  const scale = 4,
    std = 0.5,
    div = 1.414;
  const mixture = new GaussianMixture({
    weights: new Array(8).fill(1),
    means: EIGHT_DIRECTIONS.map(([a, b]) => [(scale * a) / div, (scale * b) / div]),
    stds: std / div,
  });
  return {
    name: '8gaussians',
    description: '8 gaussians on a circle of radius 4/1.414 with std 0.5/1.414 (FFJORD toy data), exact density',
    sample(n, g) {
      checkN(n, '8gaussians');
      checkGenerator(g, '8gaussians');
      const u = g.uniform([n]).data,
        z = g.normal([n, 2]).data;
      const out = new NDArray([n, 2]);
      for (let i = 0; i < n; i++) {
        const [a, b] = EIGHT_DIRECTIONS[Math.min(7, Math.floor(u[i] * 8))];
        out.data[2 * i] = (scale * a + std * z[2 * i]) / div;
        out.data[2 * i + 1] = (scale * b + std * z[2 * i + 1]) / div;
      }
      return out;
    },
    logDensity: (x) => mixture.logDensity(x),
  };
}

/**
 * Checkerboard (FFJORD): x1 = 4 u1 - 2, x2 = u2 - 2 floor(2 u3) + (floor(x1) mod 2), both times 2:
 * uniform on the 8 squares of side 2 in [-4, 4]^2 where floor(x/2) + floor(y/2) is even.
 * Draws: uniform([n, 3]).
 * @example checkerboard().sample(1000, new Philox(3))
 */
export function checkerboard(): Toy2dDataset {
  return {
    name: 'checkerboard',
    description: 'checkerboard: uniform on 8 squares of side 2 in [-4, 4]^2 (FFJORD toy data)',
    sample(n, g) {
      checkN(n, 'checkerboard');
      checkGenerator(g, 'checkerboard');
      const u = g.uniform([n, 3]).data;
      const out = new NDArray([n, 2]);
      for (let i = 0; i < n; i++) {
        const x1 = u[3 * i] * 4 - 2;
        const fl = Math.floor(x1);
        const x2 = u[3 * i + 1] - Math.floor(2 * u[3 * i + 2]) * 2 + (((fl % 2) + 2) % 2); // Python's % (non-negative)
        out.data[2 * i] = x1 * 2;
        out.data[2 * i + 1] = x2 * 2;
      }
      return out;
    },
  };
}

/**
 * Two concentric circles (sklearn make_circles): radius 1 or `factor` with probability 1/2, angle ~ U[0, 2 pi),
 * plus N(0, noise^2) per coordinate; times 3 (FFJORD: factor 0.5, noise 0.08).
 * Draws: uniform([n, 2]) (component, angle), then normal([n, 2]).
 * @example circles({ noise: 0 }).sample(100, new Philox(4))
 */
export function circles(options: { factor?: number; noise?: number } = {}): Toy2dDataset {
  const factor = options.factor ?? 0.5;
  if (!(factor > 0 && factor < 1))
    throw new Error(`toy2d: circles factor = ${factor} must be in (0, 1) (sklearn make_circles)`);
  const noise = nonNegative(options.noise ?? 0.08, 'circles noise');
  return {
    name: 'circles',
    description: `two circles (sklearn make_circles, factor ${factor}, noise ${noise}; FFJORD scaling x3)`,
    sample(n, g) {
      checkN(n, 'circles');
      checkGenerator(g, 'circles');
      const u = g.uniform([n, 2]).data,
        z = g.normal([n, 2]).data;
      const out = new NDArray([n, 2]);
      for (let i = 0; i < n; i++) {
        const r = u[2 * i] < 0.5 ? 1 : factor;
        const t = 2 * Math.PI * u[2 * i + 1];
        out.data[2 * i] = (r * Math.cos(t) + noise * z[2 * i]) * 3;
        out.data[2 * i + 1] = (r * Math.sin(t) + noise * z[2 * i + 1]) * 3;
      }
      return out;
    },
  };
}

/**
 * The default mixture of the 'gmm' data set: five isotropic components with unequal weights and widths
 * (a centre blob and four corners), so a model must learn weights as well as positions.
 */
export function defaultGaussianMixture(): GaussianMixture {
  return new GaussianMixture({
    weights: [0.3, 0.25, 0.2, 0.15, 0.1],
    means: [
      [0, 0],
      [2, 2],
      [-2, 2],
      [-2, -2],
      [2, -2],
    ],
    stds: [0.5, 0.3, 0.25, 0.2, 0.35],
  });
}

/**
 * A Gaussian mixture with exact density (src/data/gaussian_mixture.ts; its `sample` defines the draws).
 * @example gmm({ mixture: GaussianMixture.onCircle({ components: 6, radius: 2, stds: 0.2 }) })
 */
export function gmm(options: { mixture?: GaussianMixture } = {}): Toy2dDataset & { mixture: GaussianMixture } {
  const mixture = options.mixture ?? defaultGaussianMixture();
  if (mixture.dim !== 2)
    throw new Error(`toy2d 'gmm': the mixture has dimension ${mixture.dim}; toy2d data sets are 2D`);
  return {
    name: 'gmm',
    description: `Gaussian mixture with ${mixture.numComponents} components, exact density`,
    mixture,
    sample(n, g) {
      checkN(n, 'gmm');
      checkGenerator(g, 'gmm');
      return mixture.sample(n, g);
    },
    logDensity: (x) => mixture.logDensity(x),
  };
}

/**
 * A toy data set by name (default options).
 * @example toy2d('checkerboard').sample(256, new Philox(0))
 */
export function toy2d(name: string): Toy2dDataset {
  switch (name) {
    case 'moons':
      return moons();
    case 'swissroll':
      return swissRoll();
    case '8gaussians':
      return eightGaussians();
    case 'checkerboard':
      return checkerboard();
    case 'circles':
      return circles();
    case 'gmm':
      return gmm();
    default:
      throw new Error(`toy2d: unknown data set ${JSON.stringify(name)} (allowed: ${TOY2D_NAMES.join(', ')})`);
  }
}

/**
 * n samples [n, 2] of the named toy data set.
 * @example const x = sampleToy2d('8gaussians', 512, new Philox(7));
 */
export function sampleToy2d(name: string, n: number, generator: RandomGenerator): NDArray {
  return toy2d(name).sample(n, generator);
}
