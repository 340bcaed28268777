/**
 * A folder of PNG/JPEG images as a training set: every file is decoded, converted to grayscale ('L')
 * or 'RGB', resized so its shorter side is `size` (Pillow bilinear, antialiased) and center-cropped
 * to size x size (torchvision Resize + CenterCrop), then scaled to [-1, 1] (or [0, 1]).
 *
 * Files: *.png, *.jpg, *.jpeg (any case), found recursively (hidden files and folders skipped),
 * in sorted path order. With `classesFromSubdirs`, the first-level subfolder names are the classes
 * (sorted; label = index), like torchvision's ImageFolder. A file that fails to decode stops the
 * load with an error naming it (or is skipped and reported with `onError: 'skip'`).
 *
 * @example
 *   const { images, files } = loadImageFolder('data/faces', { size: 32, mode: 'RGB' });  // [N, 3, 32, 32]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NDArray } from '../engine/ndarray.ts';
import type { ColorMode, ValueRange } from '../io/image.ts';
import { DEFAULT_MAX_PIXELS, ImageDecodeError, readImage } from '../io/png.ts';
import { resizeCenterCrop } from './resize.ts';

export interface ImageFolderOptions {
  /** Output side length in pixels (square images). */
  size: number;
  /** 'L' (1 channel) or 'RGB' (3 channels, default). */
  mode?: ColorMode;
  /** '[-1,1]' (default) or '[0,1]'. */
  range?: ValueRange;
  /** Search subfolders (default true). */
  recursive?: boolean;
  /** Label each image by its first-level subfolder (torchvision ImageFolder); default false. */
  classesFromSubdirs?: boolean;
  /** Stop after this many files (in sorted order). */
  maxImages?: number;
  /** 'throw' (default): the first undecodable file stops the load; 'skip': it is left out and listed in `skipped`. */
  onError?: 'throw' | 'skip';
  /** Refuse images with more pixels than this (default 50 megapixels). */
  maxPixels?: number;
}

export interface ImageFolderData {
  /** [N, C, size, size] float32. */
  images: NDArray;
  /** Paths relative to the folder, in the order of `images`. */
  files: string[];
  /** Class index per image (only with classesFromSubdirs). */
  labels?: Uint8Array | Uint16Array;
  /** Class names (sorted subfolder names; only with classesFromSubdirs). */
  classNames?: string[];
  /** Files left out with onError 'skip', and why. */
  skipped: { file: string; reason: string }[];
}

const EXTENSIONS = ['.png', '.jpg', '.jpeg'];

function listImages(root: string, recursive: boolean): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch (e) {
      throw new Error(`image folder ${root}: cannot read directory ${rel || '.'}: ${(e as Error).message}`);
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory(),
        isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = fs.statSync(path.join(root, r));
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue;
        }
      }
      if (isDir) {
        if (recursive) walk(r);
      } else if (isFile && EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(r);
    }
  };
  walk('');
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Loads every PNG/JPEG under `dir` (see the module doc).
 * @example const { images, labels, classNames } = loadImageFolder('data/pets', { size: 64, classesFromSubdirs: true });
 */
export function loadImageFolder(dir: string, options: ImageFolderOptions): ImageFolderData {
  const { size } = options;
  if (!Number.isInteger(size) || size < 1 || size > 4096)
    throw new Error(`image folder ${dir}: size = ${size} must be an integer in 1..4096`);
  const mode = options.mode ?? 'RGB';
  if (mode !== 'L' && mode !== 'RGB')
    throw new Error(`image folder ${dir}: mode = ${JSON.stringify(mode)} is not supported (allowed: "L", "RGB")`);
  const range = options.range ?? '[-1,1]';
  if (range !== '[-1,1]' && range !== '[0,1]')
    throw new Error(
      `image folder ${dir}: range = ${JSON.stringify(range)} is not supported (allowed: "[-1,1]", "[0,1]")`,
    );
  const onError = options.onError ?? 'throw';
  if (onError !== 'throw' && onError !== 'skip')
    throw new Error(
      `image folder ${dir}: onError = ${JSON.stringify(onError)} is not supported (allowed: "throw", "skip")`,
    );
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new Error(
      `image folder ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message}`,
    );
  }
  if (!st.isDirectory()) throw new Error(`image folder ${dir}: is not a directory`);

  const byClass = options.classesFromSubdirs ?? false;
  let files = listImages(dir, byClass ? true : (options.recursive ?? true));
  if (options.maxImages !== undefined) {
    if (!Number.isInteger(options.maxImages) || options.maxImages < 1)
      throw new Error(`image folder ${dir}: maxImages = ${options.maxImages} must be a positive integer`);
    files = files.slice(0, options.maxImages);
  }
  if (files.length === 0) {
    throw new Error(
      `image folder ${dir}: no images found (looked for ${EXTENSIONS.join(', ')}${byClass || (options.recursive ?? true) ? ', in subfolders too' : ''})`,
    );
  }
  let classNames: string[] | undefined;
  if (byClass) {
    const top = files.find((f) => !f.includes('/'));
    if (top)
      throw new Error(
        `image folder ${dir}: classesFromSubdirs expects every image inside a class subfolder, but ${top} is at the top level`,
      );
    classNames = [...new Set(files.map((f) => f.split('/')[0]))].sort();
    if (classNames.length > 65535)
      throw new Error(`image folder ${dir}: ${classNames.length} classes is more than 65535`);
  }

  const c = mode === 'L' ? 1 : 3;
  const per = c * size * size;
  const kept: string[] = [];
  const skipped: { file: string; reason: string }[] = [];
  const chunks: Float32Array[] = [];
  for (const rel of files) {
    const full = path.join(dir, rel);
    let img: NDArray;
    try {
      img = readImage(full, { mode, maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS }).image;
    } catch (e) {
      if (onError === 'skip' && e instanceof ImageDecodeError) {
        skipped.push({ file: rel, reason: e.message });
        continue;
      }
      throw e;
    }
    const out = resizeCenterCrop(img, size).data;
    if (range === '[-1,1]') for (let i = 0; i < out.length; i++) out[i] = out[i] * 2 - 1;
    chunks.push(out);
    kept.push(rel);
  }
  if (kept.length === 0)
    throw new Error(
      `image folder ${dir}: none of the ${files.length} files could be decoded (first: ${skipped[0]?.reason})`,
    );
  const images = new NDArray([kept.length, c, size, size]);
  chunks.forEach((ch, i) => images.data.set(ch, i * per));
  const result: ImageFolderData = { images, files: kept, skipped };
  if (classNames) {
    const index = new Map(classNames.map((n, i) => [n, i]));
    const labels = classNames.length <= 256 ? new Uint8Array(kept.length) : new Uint16Array(kept.length);
    kept.forEach((f, i) => {
      labels[i] = index.get(f.split('/')[0])!;
    });
    result.labels = labels;
    result.classNames = classNames;
  }
  return result;
}
