/**
 * FIR resampling of the NCSN++ U-Net (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
 * appendix H; the filter of Karras et al. 2019, StyleGAN2): the binomial kernel k = [1, 3, 3, 1],
 * K = k k^T / sum(k k^T), applied per channel, as diffusers' `upfirdn2d_native` with
 * `upsample_2d` / `downsample_2d` (factor 2, gain 1) computes it:
 *
 *   down: y = depthwise_conv(pad(x, 1 each side), K, stride 2)                       H -> H / 2
 *   up:   y = depthwise_conv(pad(zero_insert(x), (2, 1)), 4 K)                        H -> 2 H
 *
 * where zero_insert puts x at the even positions of a 2H x 2W grid. K is symmetric, so the flip of a
 * true convolution changes nothing. Parameter-free (diffusers' FirUpsample2D / FirDownsample2D with
 * use_conv false, the form UNet2DModel's skip blocks build).
 *
 * @example
 *   const y = firDownsample2d(x);   // [n, c, 8, 8] -> [n, c, 4, 4]
 *   const z = firUpsample2d(x);     // [n, c, 8, 8] -> [n, c, 16, 16]
 */
import { NDArray, constant, conv2d, f32, pad, reshape, type Value } from '../engine/index.ts';
import { Module } from './module.ts';

const K1 = [1, 3, 3, 1];

/** The normalised 4 x 4 kernel K times `gain`, repeated for `channels` depthwise filters [channels, 1, 4, 4]. */
function firKernel(channels: number, gain: number): NDArray {
  const k = new NDArray([channels, 1, 4, 4]);
  let total = 0;
  for (const a of K1) for (const b of K1) total += a * b;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < 4; i++)
      // k_ij = K1_i K1_j / sum(K1 K1^T) * gain, float32
      for (let j = 0; j < 4; j++) k.data[c * 16 + i * 4 + j] = f32(f32((K1[i] * K1[j]) / total) * gain);
  }
  return k;
}

function check(x: Value, where: string): [number, number, number] {
  const [, c, h, w] = x.shape;
  if (x.rank !== 4 || typeof c !== 'number' || typeof h !== 'number' || typeof w !== 'number') {
    throw new Error(`${where}: expected [n, C, H, W] with static C, H, W, got [${x.shape.join(', ')}]`);
  }
  return [c, h, w];
}

/** FIR downsampling by 2 (diffusers `downsample_2d(x, kernel=(1, 3, 3, 1))`). */
export function firDownsample2d(x: Value): Value {
  const [c] = check(x, 'firDownsample2d');
  return conv2d(pad(x, [0, 0, 1, 1, 0, 0, 1, 1]), constant(firKernel(c, 1)), null, { stride: 2, groups: c });
}

/** FIR upsampling by 2 (diffusers `upsample_2d(x, kernel=(1, 3, 3, 1))`, gain 1: kernel scaled by factor^2 = 4). */
export function firUpsample2d(x: Value): Value {
  const [c, h, w] = check(x, 'firUpsample2d');
  const n = x.shape[0];
  // zero insertion: [n, c, h, 1, w, 1] padded to [n, c, h, 2, w, 2]
  const z = reshape(pad(reshape(x, [n, c, h, 1, w, 1]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]), [n, c, 2 * h, 2 * w]);
  return conv2d(pad(z, [0, 0, 2, 2, 0, 0, 1, 1]), constant(firKernel(c, 4)), null, { groups: c });
}

/** diffusers `FirDownsample2D` without conv (no parameters). @example new FirDownsample2D().forward(x) */
export class FirDownsample2D extends Module {
  forward(x: Value): Value {
    return firDownsample2d(x);
  }
}

/** diffusers `FirUpsample2D` without conv (no parameters). @example new FirUpsample2D().forward(x) */
export class FirUpsample2D extends Module {
  forward(x: Value): Value {
    return firUpsample2d(x);
  }
}
