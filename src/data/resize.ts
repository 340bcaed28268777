/**
 * Image resizing for data pipelines, matching what torchvision does on PIL images:
 *   - `resizeBilinear`: Pillow's BILINEAR resampling — a separable convolution with the triangle
 *     filter k(x) = max(0, 1 - |x|), stretched by the scale factor when shrinking (so downscaling
 *     averages, i.e. antialiases), horizontal pass then vertical pass (Pillow libImaging/Resample.c:
 *     for output pixel i, center = (i + 0.5) * scale, support = max(scale, 1), taps j in
 *     [floor(center - support + 0.5), floor(center + support + 0.5)) with weight
 *     k((j - center + 0.5) / max(scale, 1)), normalised to sum 1);
 *   - `resizeShorterSide`: torchvision `Resize(size)` with an int size: the shorter side becomes
 *     `size`, the longer one int(size * long / short);
 *   - `centerCrop`: torchvision `CenterCrop`: top = int(round((H - h) / 2)), left likewise (Python's
 *     round, ties to even).
 *
 * @example
 *   const x = resizeCenterCrop(image, 64);   // [C, H, W] -> [C, 64, 64]
 */
import { NDArray } from '../engine/ndarray.ts';
import { roundHalfEven } from '../io/image.ts';

/** Per-output-pixel taps: start index, weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  ksize: number;
}

/** Pillow's precompute_coeffs for the bilinear (triangle, support 1) filter. */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // triangle support 1, scaled
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize),
    count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const t = Math.abs((j - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[i * ksize + (j - xmin)] = w;
      total += w;
    }
    if (total !== 0) for (let j = 0; j < xmax - xmin; j++) weights[i * ksize + j] /= total;
    start[i] = xmin;
    count[i] = xmax - xmin;
  }
  return { start, count, weights, ksize };
}

function checkImage(img: NDArray, where: string): [number, number, number] {
  if (img.ndim !== 3) throw new Error(`${where}: image shape [${img.shape.join(', ')}] is not [C, H, W]`);
  return [img.shape[0], img.shape[1], img.shape[2]];
}

function checkSize(v: number, what: string, where: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${what} = ${v} must be a positive integer`);
}

/**
 * Resizes a [C, H, W] image to [C, outH, outW] with Pillow's BILINEAR filter (antialiased when shrinking).
 * A dimension whose size does not change is left untouched (as Pillow skips that pass).
 * @example resizeBilinear(NDArray.ones([3, 10, 10]), 5, 5).shape // [3, 5, 5]
 */
export function resizeBilinear(img: NDArray, outH: number, outW: number): NDArray {
  const [c, h, w] = checkImage(img, 'resizeBilinear');
  checkSize(outH, 'outH', 'resizeBilinear');
  checkSize(outW, 'outW', 'resizeBilinear');
  if (h === 0 || w === 0) throw new Error(`resizeBilinear: input image is empty (${h} x ${w})`);
  let cur: Float64Array = Float64Array.from(img.data);
  let cw = w;
  if (outW !== w) {
    // horizontal pass
    const t = bilinearTaps(w, outW);
    const next = new Float64Array(c * h * outW);
    for (let row = 0; row < c * h; row++) {
      const src = row * w,
        dst = row * outW;
      for (let i = 0; i < outW; i++) {
        let s = 0;
        const k0 = i * t.ksize,
          j0 = t.start[i];
        for (let j = 0; j < t.count[i]; j++) s += cur[src + j0 + j] * t.weights[k0 + j];
        next[dst + i] = s;
      }
    }
    cur = next;
    cw = outW;
  }
  if (outH !== h) {
    // vertical pass
    const t = bilinearTaps(h, outH);
    const next = new Float64Array(c * outH * cw);
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < outH; i++) {
        const k0 = i * t.ksize,
          j0 = t.start[i];
        const dst = (ch * outH + i) * cw;
        for (let x = 0; x < cw; x++) {
          let s = 0;
          for (let j = 0; j < t.count[i]; j++) s += cur[(ch * h + j0 + j) * cw + x] * t.weights[k0 + j];
          next[dst + x] = s;
        }
      }
    }
    cur = next;
  }
  return new NDArray([c, outH, outW], Float32Array.from(cur));
}

/**
 * torchvision Resize(size) with an int: the shorter side becomes `size`, the other int(size * long / short).
 * @example resizeShorterSide(NDArray.zeros([1, 100, 150]), 32).shape // [1, 32, 48]
 */
export function resizeShorterSide(img: NDArray, size: number): NDArray {
  const [, h, w] = checkImage(img, 'resizeShorterSide');
  checkSize(size, 'size', 'resizeShorterSide');
  const [nh, nw] = w <= h ? [Math.trunc((size * h) / w), size] : [size, Math.trunc((size * w) / h)];
  return nh === h && nw === w ? img : resizeBilinear(img, nh, nw);
}

/**
 * torchvision CenterCrop to (outH, outW); the image must be at least that large.
 * @example centerCrop(NDArray.zeros([1, 32, 48]), 32, 32).shape // [1, 32, 32]
 */
export function centerCrop(img: NDArray, outH: number, outW: number): NDArray {
  const [c, h, w] = checkImage(img, 'centerCrop');
  checkSize(outH, 'outH', 'centerCrop');
  checkSize(outW, 'outW', 'centerCrop');
  if (outH > h || outW > w) throw new Error(`centerCrop: crop ${outH} x ${outW} is larger than the image ${h} x ${w}`);
  const top = roundHalfEven((h - outH) / 2),
    left = roundHalfEven((w - outW) / 2);
  const out = new NDArray([c, outH, outW]);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < outH; y++) {
      const s = (ch * h + top + y) * w + left;
      out.data.set(img.data.subarray(s, s + outW), (ch * outH + y) * outW);
    }
  }
  return out;
}

/**
 * Resize the shorter side to `size`, then center-crop to size x size (the usual image-dataset pipeline).
 * @example resizeCenterCrop(photo, 64).shape // [3, 64, 64]
 */
export function resizeCenterCrop(img: NDArray, size: number): NDArray {
  return centerCrop(resizeShorterSide(img, size), size, size);
}
