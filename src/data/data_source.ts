/**
 * Training data behind one interface: a stream of batches with a resumable state.
 *
 * - toy 2D sets and the Gaussian mixture: infinite, fresh i.i.d. samples each batch (Philox stream);
 * - MNIST, an image folder, a CSV table, a 1D series: a finite data set walked by a seeded,
 *   resumable DataLoader (one shuffle per epoch).
 *
 * `describe()` is stored with checkpoints so `sample` knows how to write outputs (image grid,
 * CSV with the standardisation undone, scatter plot).
 *
 * @example
 *   const data = openDataSource('moons', { batchSize: 256, seed: 0 });
 *   const { x } = data.next();      // [256, 2]
 */
import fs from 'node:fs';
import path from 'node:path';
import { NDArray, Philox, type PhiloxState } from '../engine/index.ts';
import { DataLoader, tensorDataset, type DataLoaderState, type TensorBatch } from './loader.ts';
import { TOY2D_NAMES, toy2d } from './toy2d.ts';
import { loadImageFolder } from './image_folder.ts';
import { loadMnist } from './mnist.ts';
import { loadSeries } from './series.ts';
import { loadTabular } from './tabular.ts';
import type { StandardScalerJSON } from './standardize.ts';

export type DataKind = 'toy2d' | 'images' | 'tabular' | 'series';

/** What a model trained on this data produces, stored in trainer_state.json. */
export interface DataDescription {
  spec: string;
  kind: DataKind;
  /** Shape of one sample (no batch axis). */
  sampleShape: number[];
  numClasses: number | null;
  classNames?: string[];
  columns?: string[];
  scaler?: StandardScalerJSON;
  size: number | null;
}

/** One batch of training data: samples [B, ...sampleShape] and, for labelled data, their classes. */
export interface DataBatch {
  x: NDArray;
  labels?: Int32Array;
}

export interface DataSource {
  describe(): DataDescription;
  /** The next batch (a data source fed by an async iterable returns a promise). */
  next(): DataBatch | Promise<DataBatch>;
  state(): unknown;
  restore(state: unknown): void;
  /** Fresh held-out samples for evaluation (toy sets) or a slice of the data set. */
  reference(n: number, seed: number): NDArray;
}

export interface DataSourceOptions {
  batchSize: number;
  seed: number;
  /** Image side for image folders (default 28). */
  imageSize?: number;
  /** Image channels for image folders: 1 or 3 (default 1). */
  channels?: 1 | 3;
  /** Window length for 1D series (default 32). */
  window?: number;
  /** Use only the first n items of a finite data set. */
  limit?: number;
}

/**
 * Open `spec`: a toy name (moons, swissroll, 8gaussians, checkerboard, circles, gmm), `mnist`, a
 * folder of PNG/JPEG images, a `.csv` table, or `series:<file.csv>` (windows of one column).
 */
export function openDataSource(spec: string, o: DataSourceOptions): DataSource {
  if ((TOY2D_NAMES as readonly string[]).includes(spec)) return toySource(spec, o);
  if (spec === 'mnist') {
    const d = loadMnist({ limit: o.limit });
    return finiteSource(spec, 'images', d.images, Int32Array.from(d.labels), 10, o, {});
  }
  if (spec.startsWith('series:')) {
    const file = spec.slice('series:'.length);
    mustExist(file, '--data');
    const s = loadSeries(file, { window: o.window ?? 32, standardize: true });
    const x = s.windows;
    const { mean, std } = s.scaler.toJSON();
    return finiteSource(spec, 'series', x, undefined, null, o, { scaler: { mean: [mean], std: [std] } });
  }
  mustExist(spec, '--data');
  if (fs.statSync(spec).isDirectory()) {
    if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3)
      throw new Error(`--channels ${o.channels}: not supported (allowed: 1 for greyscale or 3 for RGB)`);
    const d = loadImageFolder(spec, {
      size: o.imageSize ?? 28,
      mode: (o.channels ?? 1) === 1 ? 'L' : 'RGB',
      maxImages: o.limit,
      classesFromSubdirs: hasSubdirs(spec),
    });
    if (d.images.shape[0] === 0) throw new Error(`--data ${spec}: no PNG or JPEG images found`);
    const labels = d.labels ? Int32Array.from(d.labels) : undefined;
    return finiteSource(spec, 'images', d.images, labels, d.classNames?.length ?? null, o, {
      classNames: d.classNames,
    });
  }
  if (path.extname(spec).toLowerCase() === '.csv') {
    const t = loadTabular(spec);
    const x = o.limit
      ? new NDArray(
          [Math.min(o.limit, t.data.shape[0]), t.data.shape[1]],
          t.data.data.subarray(0, Math.min(o.limit, t.data.shape[0]) * t.data.shape[1]),
        )
      : t.data;
    return finiteSource(spec, 'tabular', x, undefined, null, o, { columns: t.columns, scaler: t.scaler.toJSON() });
  }
  throw new Error(
    `--data ${spec}: not a known data set (${[...TOY2D_NAMES, 'mnist'].join(', ')}), an image folder, a .csv file, or series:<file.csv>`,
  );
}

function mustExist(file: string, what: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${what} ${file}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot be read (${code})`}`);
  }
}

function hasSubdirs(dir: string): boolean {
  return fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
}

function toySource(name: string, o: DataSourceOptions): DataSource {
  const ds = toy2d(name);
  let rng = new Philox(o.seed).fold(0x7a11);
  return {
    describe: () => ({ spec: name, kind: 'toy2d', sampleShape: [2], numClasses: null, size: null }),
    next: () => ({ x: ds.sample(o.batchSize, rng) }),
    state: () => rng.state(),
    restore: (s) => {
      rng = Philox.fromState(s as PhiloxState);
    },
    reference: (n, seed) => ds.sample(n, new Philox(seed).fold(0x5eed)),
  };
}

function finiteSource(
  spec: string,
  kind: DataKind,
  x: NDArray,
  labels: Int32Array | undefined,
  numClasses: number | null,
  o: DataSourceOptions,
  extra: Partial<DataDescription>,
): DataSource {
  if (o.batchSize > x.shape[0]) {
    throw new Error(
      `--batch-size ${o.batchSize}: the data '${spec}' has only ${x.shape[0]} items (allowed: a batch size up to ${x.shape[0]}; every batch is full)`,
    );
  }
  const dataset = tensorDataset(x, labels);
  let loader = new DataLoader<TensorBatch>(dataset, { batchSize: o.batchSize, seed: o.seed });
  return {
    describe: () => ({ spec, kind, sampleShape: [...x.shape.slice(1)], numClasses, size: x.shape[0], ...extra }),
    next: () => loader.next().batch,
    state: () => loader.state(),
    restore: (s) => {
      loader = DataLoader.fromState(dataset, s as DataLoaderState);
    },
    reference: (n, seed) => {
      const idx = new Philox(seed).permutation(x.shape[0]).subarray(0, Math.min(n, x.shape[0]));
      return dataset.gather(idx).x;
    },
  };
}
