/**
 * Export images to a folder of PNG files: the hand-off from diffuse's data to other tools, e.g.
 * diffusers' unconditional training recipe (`--train_data_dir`, read with datasets' "imagefolder")
 * or torchvision's ImageFolder. With labels the images go to one subfolder per class
 * (`<dir>/<class name>/<index>.png`, torchvision's layout, which loadImageFolder reads back with
 * classesFromSubdirs); without, to `<dir>/<index>.png`. Pixels are quantised to 8 bits
 * (round((x + 1) / 2 * 255) for range '[-1,1]'), so a round trip changes a value by at most 1/255 of the range.
 *
 * `exportDataSet(spec, dir)` does this for a data set by name: `mnist` (with `limit` / `digits`) or an image
 * folder (re-encoded at `size`).
 *
 * @example
 *   exportImageFolder(images, 'out/mnist_png', { labels, classNames: ['0', '1', ...] });  // images [N, C, H, W] in [-1, 1]
 *   exportDataSet('mnist', 'out/mnist_png', { limit: 1000 });                            // 1000 PNGs in 10 class folders
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NDArray } from '../engine/ndarray.ts';
import type { ValueRange } from '../io/image.ts';
import { writePng } from '../io/png.ts';
import { loadImageFolder } from './image_folder.ts';
import { loadMnist } from './mnist.ts';

export interface ExportImageFolderOptions {
  /** Class index per image: one subfolder per class. */
  labels?: ArrayLike<number>;
  /** Subfolder name per class index (default the index as a string). */
  classNames?: readonly string[];
  /** Value range of `images` (default '[-1,1]'). */
  range?: ValueRange;
  /** Refuse to write into a non-empty folder unless true (default false). */
  overwrite?: boolean;
}

export interface ExportedImageFolder {
  dir: string;
  /** Paths written, relative to `dir`, in image order. */
  files: string[];
  /** Images per class name (only with labels). */
  classCounts?: Record<string, number>;
}

/** Write `images` [N, C, H, W] (C = 1 or 3) as PNG files under `dir` (see the module doc). */
export function exportImageFolder(images: NDArray, dir: string, o: ExportImageFolderOptions = {}): ExportedImageFolder {
  if (images.ndim !== 4 || (images.shape[1] !== 1 && images.shape[1] !== 3)) {
    throw new Error(`exportImageFolder: images must be [N, 1 or 3, H, W], got [${images.shape.join(', ')}]`);
  }
  const [n, c, h, w] = images.shape;
  if (o.labels && o.labels.length !== n)
    throw new Error(`exportImageFolder: ${o.labels.length} labels for ${n} images`);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0 && !o.overwrite) {
    throw new Error(`exportImageFolder: ${dir} is not empty (choose an empty or new folder, or pass overwrite)`);
  }
  fs.mkdirSync(dir, { recursive: true });
  const digits = String(Math.max(0, n - 1)).length;
  const files: string[] = [];
  const counts: Record<string, number> = {};
  const per = c * h * w;
  for (let i = 0; i < n; i++) {
    const img = new NDArray([c, h, w], images.data.slice(i * per, (i + 1) * per));
    let rel = `${String(i).padStart(digits, '0')}.png`;
    if (o.labels) {
      const k = o.labels[i];
      const name = o.classNames?.[k] ?? String(k);
      if (!/^[^/\\]+$/.test(name) || name === '.' || name === '..')
        throw new Error(`exportImageFolder: class name ${JSON.stringify(name)} cannot be a folder name`);
      fs.mkdirSync(path.join(dir, name), { recursive: true });
      counts[name] = (counts[name] ?? 0) + 1;
      rel = `${name}/${rel}`;
    }
    writePng(path.join(dir, rel), img, { range: o.range ?? '[-1,1]' });
    files.push(rel);
  }
  return { dir, files, ...(o.labels ? { classCounts: counts } : {}) };
}

export interface ExportDataSetOptions {
  /** Export at most this many images (in the data set's order). */
  limit?: number;
  /** mnist: only these digits. */
  digits?: number[];
  /** Image folders: side length to re-encode at (default 28); channels 1 ('L') or 3 ('RGB', default). */
  size?: number;
  channels?: 1 | 3;
  /** Write class subfolders when the data has labels (default true). */
  withLabels?: boolean;
  overwrite?: boolean;
}

/**
 * Export a data set by name (`mnist`) or an image folder to a PNG folder (see the module doc).
 * @example exportDataSet('mnist', 'out/mnist_png', { limit: 256 }).files.length // 256
 */
export function exportDataSet(spec: string, dir: string, o: ExportDataSetOptions = {}): ExportedImageFolder {
  const withLabels = o.withLabels ?? true;
  if (spec === 'mnist') {
    const d = loadMnist({ limit: o.limit, digits: o.digits });
    return exportImageFolder(d.images, dir, { labels: withLabels ? d.labels : undefined, overwrite: o.overwrite });
  }
  if (fs.existsSync(spec) && fs.statSync(spec).isDirectory()) {
    const sub = fs.readdirSync(spec, { withFileTypes: true }).some((e) => e.isDirectory() && !e.name.startsWith('.'));
    const d = loadImageFolder(spec, {
      size: o.size ?? 28,
      mode: o.channels === 1 ? 'L' : 'RGB',
      maxImages: o.limit,
      classesFromSubdirs: sub,
    });
    return exportImageFolder(d.images, dir, {
      labels: withLabels && d.labels ? d.labels : undefined,
      classNames: d.classNames,
      overwrite: o.overwrite,
    });
  }
  throw new Error(
    `export data: ${JSON.stringify(spec)} is not an image data set (allowed: mnist, or a folder of PNG/JPEG images)`,
  );
}
