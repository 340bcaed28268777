/**
 * The forward (noising) process of a variance-preserving diffusion:
 *   q(x_t | x_0) = N(sqrt(alphaBar_t) x_0, (1 - alphaBar_t) I)        (DDPM, Ho et al. 2020, eq. 4)
 * and the velocity target v = sqrt(alphaBar_t) eps - sqrt(1 - alphaBar_t) x_0 (Salimans & Ho 2022,
 * "Progressive Distillation", sec. 4). float32 arithmetic in diffusers' order.
 *
 * @example
 *   const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
 *   const xt = addNoise(x0, noise, alphasCumprod, [10, 500]);     // one timestep per batch element
 *   const v = getVelocity(x0, noise, alphasCumprod, [10, 500]);
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';
import { checkCoeff, type Coeff } from './broadcast.ts';
import { f32 } from '../engine/f32.ts';

/** sqrt(alphaBar_t) and sqrt(1 - alphaBar_t) for each timestep index (float32, like torch `** 0.5`). */
export function forwardCoefficients(
  alphasCumprod: ArrayLike<number>,
  timesteps: number | ArrayLike<number>,
): { sqrtAlphaProd: number[]; sqrtOneMinusAlphaProd: number[] } {
  const ts = typeof timesteps === 'number' ? [timesteps] : Array.from(timesteps);
  const sqrtAlphaProd: number[] = [],
    sqrtOneMinusAlphaProd: number[] = [];
  for (const t of ts) {
    if (!Number.isInteger(t) || t < 0 || t >= alphasCumprod.length) {
      throw new Error(
        `timesteps: ${t} is not a valid training timestep; expected an integer in [0, ${alphasCumprod.length - 1}]`,
      );
    }
    const a = alphasCumprod[t];
    sqrtAlphaProd.push(f32(Math.sqrt(a)));
    sqrtOneMinusAlphaProd.push(f32(Math.sqrt(f32(1 - a))));
  }
  return { sqrtAlphaProd, sqrtOneMinusAlphaProd };
}

/** x_t = alpha * x_0 + sigma * noise, per batch element (alpha, sigma scalars or one per element). */
export function mixPerSample(a: NDArray, alpha: Coeff, b: NDArray, sigma: Coeff, name = 'addNoise'): NDArray {
  if (!sameShape(a.shape, b.shape))
    throw new Error(`${name}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  checkCoeff(alpha, a, name);
  checkCoeff(sigma, a, name);
  const out = new NDArray(a.shape);
  const B = a.ndim === 0 ? 1 : a.shape[0];
  const per = B === 0 ? 0 : a.size / B;
  for (let bi = 0; bi < B; bi++) {
    const al = typeof alpha === 'number' ? alpha : alpha.length === 1 ? alpha[0] : alpha[bi];
    const si = typeof sigma === 'number' ? sigma : sigma.length === 1 ? sigma[0] : sigma[bi];
    for (let i = bi * per; i < (bi + 1) * per; i++) out.data[i] = f32(al * a.data[i]) + f32(si * b.data[i]);
  }
  return out;
}

/**
 * Sample x_t ~ q(x_t | x_0) given the noise: sqrt(alphaBar_t) x_0 + sqrt(1 - alphaBar_t) noise (DDPM eq. 4).
 * `timesteps` is one integer timestep, or one per batch element (shape[0] of x0).
 * @example addNoise(x0, noise, alphasCumprod, 999)
 */
export function addNoise(
  x0: NDArray,
  noise: NDArray,
  alphasCumprod: ArrayLike<number>,
  timesteps: number | ArrayLike<number>,
): NDArray {
  const { sqrtAlphaProd, sqrtOneMinusAlphaProd } = forwardCoefficients(alphasCumprod, timesteps);
  return mixPerSample(x0, sqrtAlphaProd, noise, sqrtOneMinusAlphaProd, 'addNoise');
}

/**
 * Velocity target v = sqrt(alphaBar_t) noise - sqrt(1 - alphaBar_t) x_0 (Salimans & Ho 2022, sec. 4).
 * @example getVelocity(x0, noise, alphasCumprod, [10, 500])
 */
export function getVelocity(
  x0: NDArray,
  noise: NDArray,
  alphasCumprod: ArrayLike<number>,
  timesteps: number | ArrayLike<number>,
): NDArray {
  const { sqrtAlphaProd, sqrtOneMinusAlphaProd } = forwardCoefficients(alphasCumprod, timesteps);
  return mixPerSample(
    noise,
    sqrtAlphaProd,
    x0,
    sqrtOneMinusAlphaProd.map((s) => -s),
    'getVelocity',
  );
}
