/**
 * PNG output (pngjs) and PNG/JPEG input (pngjs, jpeg-js) for NDArray images.
 *
 * Writing: a CHW float image (or a batch tiled by `makeGrid`) in [-1,1] or [0,1] becomes an 8-bit
 * grayscale (C = 1), RGB (C = 3) or RGBA (C = 4) PNG; files are written atomically.
 * Reading: PNG (any bit depth/color type pngjs supports; 16-bit is reduced to 8-bit) and baseline/
 * progressive JPEG, returned as [C, H, W] floats in [0, 1] in mode 'L' or 'RGB'. Images larger than
 * `maxPixels` are refused *before* decoding (decompression bombs), and every failure is an
 * `ImageDecodeError` naming the file.
 *
 * @example
 *   writePng('samples.png', makeGrid(x0, { nrow: 8 }), { range: '[-1,1]' });
 *   const { image } = readImage('digit.png', { mode: 'L' });   // [1, H, W] in [0, 1]
 */
import * as fs from 'node:fs';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { NDArray } from '../engine/ndarray.ts';
import { writeFileAtomicSync } from './atomic.ts';
import {
  checkRange,
  fromRgba,
  imageDims,
  makeGrid,
  toByte,
  type ColorMode,
  type GridOptions,
  type RgbaImage,
  type ValueRange,
} from './image.ts';

const { PNG } = pngjs;

/** Thrown when an image cannot be read or decoded; the message starts with the file name. */
export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${source}: ${detail}`, options);
    this.name = 'ImageDecodeError';
  }
}

/** Default cap on decoded pixels (width * height): 50 megapixels. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Encodes an RGBA raster or a CHW float image as PNG bytes. Float images: C = 1 -> grayscale PNG,
 * C = 3 -> RGB, C = 4 -> RGBA; values mapped to bytes by `toByte` (diffusers' convention).
 * @example const bytes = encodePng(NDArray.zeros([3, 8, 8]), { range: '[-1,1]' });
 */
export function encodePng(img: NDArray | RgbaImage, options: { range?: ValueRange } = {}): Uint8Array {
  if (!(img instanceof NDArray)) {
    if (img.data.length !== img.width * img.height * 4) {
      throw new Error(`encodePng: RGBA data has ${img.data.length} bytes, expected ${img.width} x ${img.height} x 4`);
    }
    return new Uint8Array(
      PNG.sync.write(
        {
          width: img.width,
          height: img.height,
          data: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length),
        } as never,
        { colorType: 6, inputColorType: 6, inputHasAlpha: true },
      ),
    );
  }
  const range = checkRange(options.range ?? '[-1,1]', 'encodePng');
  const [c, h, w] = imageDims(img, 'encodePng');
  if (h === 0 || w === 0) throw new Error(`encodePng: image is empty (${h} x ${w})`);
  const hw = h * w;
  const buf = Buffer.alloc(hw * c);
  const d = img.data;
  // interleave CHW -> HWC bytes
  for (let p = 0; p < hw; p++) for (let ci = 0; ci < c; ci++) buf[p * c + ci] = toByte(d[ci * hw + p], range);
  const colorType = c === 1 ? 0 : c === 3 ? 2 : 6;
  return new Uint8Array(
    PNG.sync.write({ width: w, height: h, data: buf } as never, {
      colorType,
      inputColorType: colorType,
      inputHasAlpha: c === 4,
      bitDepth: 8,
    }),
  );
}

/**
 * Writes a PNG atomically. An NCHW batch is tiled with `makeGrid` first (padding black by default:
 * padValue -1 for range '[-1,1]', 0 for '[0,1]').
 * @example writePng('out/grid.png', samples, { range: '[-1,1]', nrow: 8 });
 */
export function writePng(
  path: string,
  img: NDArray | RgbaImage,
  options: { range?: ValueRange } & GridOptions = {},
): void {
  const range = checkRange(options.range ?? '[-1,1]', 'writePng');
  const image =
    img instanceof NDArray && img.ndim === 4 && img.shape[0] !== 1
      ? makeGrid(img, { padValue: range === '[-1,1]' ? -1 : 0, ...options })
      : img;
  writeFileAtomicSync(path, encodePng(image, options));
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** Result of decoding: the image as [C, H, W] floats in [0, 1]. */
export interface DecodedImage {
  image: NDArray;
  width: number;
  height: number;
  format: 'png' | 'jpeg';
}

export interface DecodeOptions {
  /** 'L' (grayscale, 1 channel) or 'RGB' (3 channels, default). */
  mode?: ColorMode;
  /** Name used in error messages (default 'image'). */
  source?: string;
  /** Refuse images with more pixels than this (default 50 megapixels). */
  maxPixels?: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Detects the format from the magic bytes. */
export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Width and height from the header, without decoding (PNG IHDR; JPEG SOFn marker). */
function headerSize(bytes: Uint8Array, format: 'png' | 'jpeg'): [number, number] | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'png') {
    // signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4), big-endian (PNG spec 11.2.2)
    if (bytes.length < 24 || String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) !== 'IHDR')
      return undefined;
    return [dv.getUint32(16), dv.getUint32(20)];
  }
  // walk JPEG markers to the first SOF0..SOF15 (except DHT C4, JPG C8, DAC CC) (ITU T.81 B.2)
  let i = 2;
  while (i + 9 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const m = bytes[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = dv.getUint16(i + 2);
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc)
      return [dv.getUint16(i + 7), dv.getUint16(i + 5)];
    i += 2 + len;
  }
  return undefined;
}

/**
 * Decodes PNG or JPEG bytes to [C, H, W] floats in [0, 1].
 * @example decodeImage(fs.readFileSync('a.jpg'), { mode: 'RGB', source: 'a.jpg' }).image.shape // [3, H, W]
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): DecodedImage {
  const source = options.source ?? 'image';
  const mode = options.mode ?? 'RGB';
  if (mode !== 'L' && mode !== 'RGB')
    throw new Error(`decodeImage: mode = ${JSON.stringify(mode)} is not supported (allowed: "L", "RGB")`);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const format = sniffImageFormat(bytes);
  if (!format) {
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ImageDecodeError(source, `not a PNG or JPEG file (first bytes: ${head || 'none, the file is empty'})`);
  }
  const size = headerSize(bytes, format);
  if (!size)
    throw new ImageDecodeError(
      source,
      `cannot decode ${format.toUpperCase()}: header is truncated or malformed (no ${format === 'png' ? 'IHDR chunk' : 'SOF marker'} with the image size)`,
    );
  const [w, h] = size;
  if (w === 0 || h === 0)
    throw new ImageDecodeError(source, `cannot decode ${format.toUpperCase()}: image is empty (${w} x ${h})`);
  if (w * h > maxPixels) {
    throw new ImageDecodeError(
      source,
      `image is too large: ${w} x ${h} = ${w * h} pixels exceeds the limit of ${maxPixels} (option maxPixels)`,
    );
  }
  let rgba: RgbaImage;
  try {
    if (format === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      rgba = {
        width: png.width,
        height: png.height,
        data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length),
      };
    } else {
      const j = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.max(512, (maxPixels * 8) / 1e6),
      });
      rgba = { width: j.width, height: j.height, data: j.data };
    }
  } catch (e) {
    throw new ImageDecodeError(source, `cannot decode ${format.toUpperCase()}: ${(e as Error)?.message ?? String(e)}`, {
      cause: e,
    });
  }
  if (rgba.data.length !== rgba.width * rgba.height * 4) {
    throw new ImageDecodeError(
      source,
      `cannot decode ${format.toUpperCase()}: decoder returned ${rgba.data.length} bytes for ${rgba.width} x ${rgba.height}`,
    );
  }
  return { image: fromRgba(rgba, mode), width: rgba.width, height: rgba.height, format };
}

/**
 * Reads and decodes a PNG/JPEG file; errors name the file.
 * @example const { image } = readImage('data/cat.jpg', { mode: 'RGB' });
 */
export function readImage(path: string, options: Omit<DecodeOptions, 'source'> = {}): DecodedImage {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new ImageDecodeError(path, `cannot read file: ${(e as Error).message}`, { cause: e });
  }
  return decodeImage(bytes, { ...options, source: path });
}
