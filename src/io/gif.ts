/**
 * Animated GIF of a sequence of frames, e.g. a denoising trajectory x_T -> x_0 (encoder: gifenc).
 *
 * Palette: when every frame is gray (R = G = B everywhere, e.g. MNIST samples) a fixed 256-level
 * gray palette is used and the GIF is lossless; otherwise one global 256-color palette is quantized
 * (gifenc's rgb565 quantizer) from the frames and each frame is mapped to its nearest colors.
 *
 * @example
 *   // trajectory: NDArray[] of [N, C, H, W] predictions, one per sampling step
 *   writeGif('trajectory.gif', trajectoryFrames(trajectory, { range: '[-1,1]', nrow: 4 }), { delayMs: 60 });
 */
import gifenc from 'gifenc';
import type { NDArray } from '../engine/ndarray.ts';
import { writeFileAtomicSync } from './atomic.ts';
import { checkRange, makeGrid, toRgba, type GridOptions, type RgbaImage, type ValueRange } from './image.ts';

export interface GifOptions {
  /** Delay between frames in milliseconds (GIF stores 1/100 s; default 80). */
  delayMs?: number;
  /** Extra hold on the last frame in milliseconds (default 1000), so the final sample is visible. */
  lastFrameDelayMs?: number;
  /** true = loop forever (default), false = play once, n = repeat n times. */
  loop?: boolean | number;
}

function isGray(frames: readonly RgbaImage[]): boolean {
  for (const f of frames) {
    const d = f.data;
    for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  }
  return true;
}

/**
 * Encodes RGBA frames (all the same size) as an animated GIF.
 * @example const bytes = encodeGif([frameA, frameB], { delayMs: 100 });
 */
export function encodeGif(frames: readonly RgbaImage[], options: GifOptions = {}): Uint8Array {
  if (frames.length === 0) throw new Error('encodeGif: no frames');
  const { width, height } = frames[0];
  if (!(width >= 1 && height >= 1 && width <= 65535 && height <= 65535)) {
    throw new Error(`encodeGif: frame size ${width} x ${height} is outside 1..65535 (the GIF limit)`);
  }
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height)
      throw new Error(
        `encodeGif: frame ${i} is ${f.width} x ${f.height}, frame 0 is ${width} x ${height} (all frames must have one size)`,
      );
    if (f.data.length !== width * height * 4)
      throw new Error(`encodeGif: frame ${i} has ${f.data.length} bytes, expected ${width * height * 4} (RGBA)`);
  });
  const delayMs = options.delayMs ?? 80;
  const lastDelay = options.lastFrameDelayMs ?? 1000;
  for (const [k, v] of [
    ['delayMs', delayMs],
    ['lastFrameDelayMs', lastDelay],
  ] as const) {
    if (!(v >= 0 && v <= 655350)) throw new Error(`encodeGif: ${k} = ${v} must be in 0..655350 ms`);
  }
  const loop = options.loop ?? true;
  const repeat = loop === true ? 0 : loop === false ? -1 : loop;
  if (!Number.isInteger(repeat) || repeat < -1 || repeat > 65535)
    throw new Error(`encodeGif: loop = ${String(loop)} must be true, false or an integer repeat count 1..65535`);

  let palette: number[][];
  let toIndex: (f: RgbaImage) => Uint8Array;
  if (isGray(frames)) {
    palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
    toIndex = (f) => {
      const idx = new Uint8Array(width * height);
      for (let p = 0; p < idx.length; p++) idx[p] = f.data[4 * p];
      return idx;
    };
  } else {
    // global palette from (a sample of) all frames: at most ~1M pixels are fed to the quantizer
    const step = Math.max(1, Math.ceil((frames.length * width * height) / 1_000_000));
    const sample = new Uint8Array(Math.ceil(frames.length / step) * width * height * 4);
    let o = 0;
    for (let i = 0; i < frames.length; i += step) {
      sample.set(frames[i].data, o);
      o += frames[i].data.length;
    }
    palette = gifenc.quantize(sample.subarray(0, o), 256, { format: 'rgb565' });
    toIndex = (f) => gifenc.applyPalette(f.data, palette, 'rgb565');
  }
  const gif = gifenc.GIFEncoder();
  frames.forEach((f, i) => {
    gif.writeFrame(toIndex(f), width, height, {
      palette: i === 0 ? palette : undefined,
      delay: i === frames.length - 1 ? Math.max(delayMs, lastDelay) : delayMs,
      repeat,
    });
  });
  gif.finish();
  return gif.bytes();
}

/**
 * Frames of a trajectory: each step's batch [N, C, H, W] (tiled with makeGrid) or image [C, H, W].
 * @example const frames = trajectoryFrames(xs, { range: '[-1,1]', nrow: 4 });
 */
export function trajectoryFrames(
  steps: readonly NDArray[],
  options: { range?: ValueRange } & GridOptions = {},
): RgbaImage[] {
  const range = checkRange(options.range ?? '[-1,1]', 'trajectoryFrames');
  return steps.map((x) =>
    toRgba(x.ndim === 4 ? makeGrid(x, { padValue: range === '[-1,1]' ? -1 : 0, ...options }) : x, { range }),
  );
}

/**
 * Writes an animated GIF atomically.
 * @example writeGif('out/denoise.gif', frames, { delayMs: 50 });
 */
export function writeGif(path: string, frames: readonly RgbaImage[], options: GifOptions = {}): void {
  writeFileAtomicSync(path, encodeGif(frames, options));
}
