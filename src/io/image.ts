/**
 * Image helpers shared by the PNG/GIF/scatter writers and the image datasets: NDArray (CHW floats)
 * <-> 8-bit pixels, and a torchvision-style grid of a batch.
 *
 * Value conventions:
 *   - model space is '[-1,1]' (diffusers, DDPM) or '[0,1]';
 *   - to bytes as diffusers does it (VaeImageProcessor.denormalize then numpy_to_pil):
 *       x01 = clamp(x / 2 + 0.5, 0, 1)  (for [-1,1]);  byte = round(x01 * 255);
 *   - from bytes: x01 = byte / 255, and x = 2 * x01 - 1 for [-1,1]
 *     (torchvision ToTensor + Normalize(0.5, 0.5)).
 *
 * @example
 *   const grid = makeGrid(samples, { nrow: 8 });          // [C, H', W']
 *   const rgba = toRgba(grid, { range: '[-1,1]' });       // { width, height, data: RGBA bytes }
 */
import { NDArray } from '../engine/ndarray.ts';

/** 8-bit RGBA raster, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Value range of float images. */
export type ValueRange = '[-1,1]' | '[0,1]';
const VALUE_RANGES: readonly unknown[] = ['[-1,1]', '[0,1]'];

export function checkRange(range: unknown, where: string): ValueRange {
  if (!VALUE_RANGES.includes(range)) {
    throw new Error(
      `${where}: range = ${JSON.stringify(range)} is not supported (allowed: ${VALUE_RANGES.map((r) => JSON.stringify(r)).join(', ')})`,
    );
  }
  return range as ValueRange;
}

/**
 * A float in `range` to a byte (diffusers' denormalize + numpy_to_pil: clamp to [0, 1], x 255, round).
 * NaN becomes 0.
 * @example toByte(0, '[-1,1]') // 128 (0.5 * 255 = 127.5 rounds half to even in numpy -> 128)
 */
export function toByte(x: number, range: ValueRange): number {
  let v = range === '[-1,1]' ? x / 2 + 0.5 : x;
  if (!(v > 0)) v = 0;
  else if (v > 1) v = 1; // also maps NaN to 0
  return roundHalfEven(v * 255);
}

/** numpy.round / Python round: ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Splits an image NDArray of shape [H,W], [C,H,W] or [1,C,H,W] into (C, H, W), checking C in {1, 3, 4}. */
export function imageDims(img: NDArray, where: string): [number, number, number] {
  let s = img.shape;
  if (s.length === 4 && s[0] === 1) s = s.slice(1);
  if (s.length === 2) return [1, s[0], s[1]];
  if (s.length === 3 && (s[0] === 1 || s[0] === 3 || s[0] === 4)) return [s[0], s[1], s[2]];
  throw new Error(
    `${where}: image shape [${img.shape.join(', ')}] is not [H, W] or [C, H, W] with C = 1, 3 or 4 (NCHW batches: use makeGrid first)`,
  );
}

/**
 * CHW float image -> RGBA bytes (gray replicated to R, G, B; alpha 255 unless C = 4).
 * @example toRgba(NDArray.zeros([1, 28, 28]), { range: '[-1,1]' }).data[0] // 128
 */
export function toRgba(img: NDArray, options: { range?: ValueRange } = {}): RgbaImage {
  const range = checkRange(options.range ?? '[-1,1]', 'toRgba');
  const [c, h, w] = imageDims(img, 'toRgba');
  const hw = h * w;
  const out = new Uint8Array(hw * 4);
  const d = img.data;
  for (let p = 0; p < hw; p++) {
    const o = 4 * p;
    if (c === 1) {
      const g = toByte(d[p], range);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      out[o + 3] = 255;
    } else {
      out[o] = toByte(d[p], range);
      out[o + 1] = toByte(d[hw + p], range);
      out[o + 2] = toByte(d[2 * hw + p], range);
      out[o + 3] = c === 4 ? toByte(d[3 * hw + p], range) : 255;
    }
  }
  return { width: w, height: h, data: out };
}

/** Color modes of decoded images: 'L' (1 channel) or 'RGB' (3 channels). */
export type ColorMode = 'L' | 'RGB';

/**
 * RGBA bytes -> CHW float image in [0, 1] ('RGB' drops alpha, as PIL's convert('RGB') does;
 * 'L' is ITU-R 601-2 luma L = 0.299 R + 0.587 G + 0.114 B, PIL's convert('L') formula, kept in float).
 * @example fromRgba(rgba, 'L').shape // [1, H, W]
 */
export function fromRgba(img: RgbaImage, mode: ColorMode): NDArray {
  if (mode !== 'L' && mode !== 'RGB')
    throw new Error(`fromRgba: mode = ${JSON.stringify(mode)} is not supported (allowed: "L", "RGB")`);
  const { width: w, height: h, data } = img;
  const hw = w * h;
  if (mode === 'L') {
    const out = new NDArray([1, h, w]);
    for (let p = 0; p < hw; p++)
      out.data[p] = (data[4 * p] * 299 + data[4 * p + 1] * 587 + data[4 * p + 2] * 114) / 255000;
    return out;
  }
  const out = new NDArray([3, h, w]);
  for (let p = 0; p < hw; p++) {
    out.data[p] = data[4 * p] / 255;
    out.data[hw + p] = data[4 * p + 1] / 255;
    out.data[2 * hw + p] = data[4 * p + 2] / 255;
  }
  return out;
}

/** Options of `makeGrid` (torchvision.utils.make_grid's). */
export interface GridOptions {
  /** Images per row (default ceil(sqrt(N))). */
  nrow?: number;
  /** Pixels between images and around the border (default 2). */
  padding?: number;
  /** Value of the padding pixels, in the images' own units (default 0). */
  padValue?: number;
}

/**
 * Tiles a batch [N, C, H, W] into one image [C, H', W'] with torchvision.utils.make_grid's layout:
 * xmaps = min(nrow, N) columns, ymaps = ceil(N / xmaps) rows, cell = (H + padding, W + padding),
 * canvas (ymaps * cellH + padding, xmaps * cellW + padding) filled with padValue, image k at
 * row floor(k / xmaps), column k mod xmaps, offset by padding.
 *
 * @example makeGrid(NDArray.zeros([16, 1, 28, 28]), { nrow: 4 }).shape // [1, 122, 122]
 */
export function makeGrid(batch: NDArray, options: GridOptions = {}): NDArray {
  if (batch.ndim !== 4) throw new Error(`makeGrid: batch shape [${batch.shape.join(', ')}] is not [N, C, H, W]`);
  const [n, c, h, w] = batch.shape;
  if (n === 0) throw new Error('makeGrid: the batch is empty (N = 0)');
  const nrow = options.nrow ?? Math.ceil(Math.sqrt(n));
  const padding = options.padding ?? 2;
  if (!Number.isInteger(nrow) || nrow < 1) throw new Error(`makeGrid: nrow = ${nrow} must be a positive integer`);
  if (!Number.isInteger(padding) || padding < 0)
    throw new Error(`makeGrid: padding = ${padding} must be a non-negative integer`);
  const xmaps = Math.min(nrow, n);
  const ymaps = Math.ceil(n / xmaps);
  const ch = h + padding,
    cw = w + padding;
  const H = ymaps * ch + padding,
    W = xmaps * cw + padding;
  const out = NDArray.full([c, H, W], options.padValue ?? 0);
  const src = batch.data,
    dst = out.data;
  for (let k = 0; k < n; k++) {
    const y0 = Math.floor(k / xmaps) * ch + padding,
      x0 = (k % xmaps) * cw + padding;
    for (let ci = 0; ci < c; ci++) {
      for (let y = 0; y < h; y++) {
        const s = ((k * c + ci) * h + y) * w;
        dst.set(src.subarray(s, s + w), (ci * H + y0 + y) * W + x0);
      }
    }
  }
  return out;
}
