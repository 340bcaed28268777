/**
 * Spherical linear interpolation (slerp; Shoemake 1985) between noises, the interpolation that keeps
 * Gaussian noise on the shell where a diffusion model expects it (DDIM, Song et al. 2021, sec. 5.3 and
 * app. D.5, interpolates inverted latents this way):
 *   slerp(a, b; u) = sin((1 - u) theta) / sin theta * a + sin(u theta) / sin theta * b,  cos theta = <a, b> / (|a| |b|)
 * (falling back to linear interpolation when a and b are nearly parallel).
 *
 * @example
 *   const path = interpolationPath(z0, z1, 8);      // [8, ...] from z0 (u = 0) to z1 (u = 1)
 */
import { NDArray, sameShape } from '../engine/index.ts';

/**
 * slerp between two arrays of the same shape, treated as single vectors.
 * @example slerp(a, b, 0.5)
 */
export function slerp(a: NDArray, b: NDArray, u: number): NDArray {
  if (!sameShape(a.shape, b.shape))
    throw new Error(`slerp: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  if (!(u >= 0 && u <= 1)) throw new Error(`slerp: u = ${u} must be in [0, 1]`);
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.size; i++) {
    dot += a.data[i] * b.data[i];
    na += a.data[i] ** 2;
    nb += b.data[i] ** 2;
  }
  const cos = dot / Math.sqrt(na * nb);
  let ca: number, cb: number;
  if (!(Math.abs(cos) < 0.9995)) {
    ca = 1 - u;
    cb = u;
  } else {
    const theta = Math.acos(cos),
      s = Math.sin(theta);
    ca = Math.sin((1 - u) * theta) / s;
    cb = Math.sin(u * theta) / s;
  }
  return a.map((v, i) => ca * v + cb * b.data[i]);
}

/**
 * k points of the slerp path from one sample to another (each [1, ...] or [...]), stacked as [k, ...].
 * @example interpolationPath(z0, z1, 5)   // u = 0, 0.25, 0.5, 0.75, 1
 */
export function interpolationPath(a: NDArray, b: NDArray, k: number): NDArray {
  if (!(Number.isInteger(k) && k >= 2))
    throw new Error(`--interpolate ${k}: expected an integer >= 2 (points on the path, ends included)`);
  const one = a.shape[0] === 1 ? a.shape.slice(1) : a.shape;
  const out = new NDArray([k, ...one]);
  for (let i = 0; i < k; i++) out.data.set(slerp(a, b, i / (k - 1)).data, i * a.size);
  return out;
}
