import { NDArray } from '../../../src/engine/index.ts';

/** Plain-loop reference of torch.nn.functional.conv2d (symmetric padding). */
export function convRef(
  x: NDArray,
  w: NDArray,
  b: NDArray | null,
  s: number,
  p: number,
  d: number,
  groups: number,
): NDArray {
  const [N, C, H, W] = x.shape,
    [Co, Cig, kh, kw] = w.shape;
  const Ho = Math.floor((H + 2 * p - d * (kh - 1) - 1) / s) + 1,
    Wo = Math.floor((W + 2 * p - d * (kw - 1) - 1) / s) + 1;
  const y = new NDArray([N, Co, Ho, Wo]);
  const cog = Co / groups;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Co; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let acc = b ? b.data[o] : 0;
          const g0 = Math.floor(o / cog) * Cig;
          for (let c = 0; c < Cig; c++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const hi = i * s + u * d - p,
                  wi = j * s + v * d - p;
                if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                acc += x.data[((n * C + g0 + c) * H + hi) * W + wi] * w.data[((o * Cig + c) * kh + u) * kw + v];
              }
          y.data[((n * Co + o) * Ho + i) * Wo + j] = acc;
        }
  return y;
}
