/**
 * Training data as a user has it — an `NDArray`, nested number arrays, a `Float32Array` with a
 * sample shape, or an iterable / async iterable of batches — turned into the trainer's DataSource.
 *
 * Arrays are walked by the seeded, resumable DataLoader (one shuffle per epoch, partial last batch
 * dropped); iterables are read batch by batch (each must hold exactly `batchSize` samples).
 *
 * @example
 *   const data = await dataSourceFrom([[0, 1], [1, 0], [0.5, 0.5]], { batchSize: 2, seed: 0 });
 *   await data.next();   // { x: NDArray [2, 2] }
 */
import { NDArray, Philox } from '../engine/index.ts';
import { DataLoader, tensorDataset, type DataLoaderState, type TensorBatch } from '../data/index.ts';
import type { DataBatch, DataDescription, DataSource } from '../data/data_source.ts';

/** A batch as a user may give it. */
export type PlainBatch =
  | NDArray
  | number[][]
  | number[][][][]
  | { x: NDArray | number[][] | number[][][][]; labels?: ArrayLike<number> };

/** Training data in any of the accepted forms. */
export type PlainData =
  | NDArray
  | number[][]
  | number[][][][]
  | Float32Array
  | Iterable<PlainBatch>
  | AsyncIterable<PlainBatch>;

/** Options of dataSourceFrom. */
export interface PlainDataOptions {
  batchSize: number;
  seed: number;
  /** Shape of one sample, needed for a flat Float32Array (e.g. [2] or [1, 28, 28]). */
  sampleShape?: readonly number[];
  /** Integer class labels, one per sample (array data only). */
  labels?: ArrayLike<number>;
  /** Number of classes (default: max label + 1). */
  numClasses?: number;
}

/** Wrap plain data as a DataSource for `train` (an iterable's first batch is read at once). */
export async function dataSourceFrom(data: PlainData, o: PlainDataOptions): Promise<DataSource> {
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
    throw new Error(`batchSize must be a positive integer, got ${o.batchSize}`);
  const arr = asArray(data, o.sampleShape);
  return arr ? arraySource(arr, o) : streamSource(data as Iterable<PlainBatch> | AsyncIterable<PlainBatch>, o);
}

/** The data as one NDArray [N, ...], or null for an iterable of batches. */
function asArray(data: PlainData, sampleShape?: readonly number[]): NDArray | null {
  if (data instanceof NDArray) return data;
  if (data instanceof Float32Array) {
    if (!sampleShape)
      throw new Error('data: a flat Float32Array needs sampleShape (e.g. [2] for points, [1, 28, 28] for images)');
    const per = sampleShape.reduce((a, b) => a * b, 1);
    if (per <= 0 || data.length % per !== 0)
      throw new Error(`data: ${data.length} numbers do not split into samples of shape [${sampleShape.join(', ')}]`);
    return new NDArray([data.length / per, ...sampleShape], data);
  }
  if (Array.isArray(data)) return NDArray.from(data);
  return null;
}

function checkFinite(x: NDArray, where: string): void {
  for (let i = 0; i < x.size; i++) {
    if (!Number.isFinite(x.data[i])) throw new Error(`${where}: value ${x.data[i]} at flat index ${i} is not finite`);
  }
}

function arraySource(x: NDArray, o: PlainDataOptions): DataSource {
  if (x.ndim < 2)
    throw new Error(
      `data: expected samples along the first axis, [N, ...sampleShape]; got shape [${x.shape.join(', ')}]`,
    );
  if (x.shape[0] < o.batchSize) throw new Error(`data: ${x.shape[0]} samples are fewer than batchSize ${o.batchSize}`);
  checkFinite(x, 'data');
  const labels = o.labels ? Int32Array.from(o.labels) : undefined;
  if (labels) {
    if (labels.length !== x.shape[0]) throw new Error(`labels: ${labels.length} labels for ${x.shape[0]} samples`);
    for (const l of labels)
      if (!(l >= 0)) throw new Error(`labels: ${l} is not a class index (expected integers >= 0)`);
  }
  const numClasses = labels ? (o.numClasses ?? Math.max(...labels) + 1) : null;
  const dataset = tensorDataset(x, labels);
  let loader = new DataLoader<TensorBatch>(dataset, { batchSize: o.batchSize, seed: o.seed });
  const desc: DataDescription = {
    spec: 'in-memory',
    kind: kindOf(x.shape.slice(1)),
    sampleShape: x.shape.slice(1),
    numClasses,
    size: x.shape[0],
  };
  return {
    describe: () => desc,
    next: () => loader.next().batch,
    state: () => loader.state(),
    restore: (s) => {
      loader = DataLoader.fromState(dataset, s as DataLoaderState);
    },
    reference: (n, seed) =>
      dataset.gather(new Philox(seed).permutation(x.shape[0]).subarray(0, Math.min(n, x.shape[0]))).x,
  };
}

function kindOf(sampleShape: readonly number[]): DataDescription['kind'] {
  return sampleShape.length === 3 ? 'images' : 'tabular';
}

function toBatch(b: PlainBatch, where: string): DataBatch {
  const raw = b instanceof NDArray || Array.isArray(b) ? { x: b } : b;
  const x = raw.x instanceof NDArray ? raw.x : NDArray.from(raw.x);
  checkFinite(x, where);
  return raw.labels ? { x, labels: Int32Array.from(raw.labels) } : { x };
}

async function streamSource(
  data: Iterable<PlainBatch> | AsyncIterable<PlainBatch>,
  o: PlainDataOptions,
): Promise<DataSource> {
  const it =
    Symbol.asyncIterator in data
      ? data[Symbol.asyncIterator]()
      : Symbol.iterator in data
        ? data[Symbol.iterator]()
        : null;
  if (!it)
    throw new Error(
      'data: expected an NDArray, nested number arrays, a Float32Array, or an (async) iterable of batches',
    );
  let count = 0;
  const take = async (): Promise<DataBatch> => {
    const r = await it.next();
    if (r.done)
      throw new Error(`data: the batch iterable ended after ${count} batches; give more batches or fewer steps`);
    const b = toBatch(r.value, `data batch ${count}`);
    if (b.x.shape[0] !== o.batchSize)
      throw new Error(`data batch ${count}: ${b.x.shape[0]} samples, expected batchSize ${o.batchSize}`);
    count++;
    return b;
  };
  // The first batch is read now, so the sample shape is known before training starts.
  let unread: DataBatch | null = await take();
  const shape = unread.x.shape.slice(1);
  const desc: DataDescription = {
    spec: 'stream',
    kind: kindOf(shape),
    sampleShape: shape,
    numClasses: o.numClasses ?? null,
    size: null,
  };
  return {
    describe: () => desc,
    next: () => {
      if (!unread) return take();
      const b = unread;
      unread = null;
      return b;
    },
    state: () => ({ batchesRead: count }),
    restore: () => {
      throw new Error('data: a run fed by an iterable cannot be resumed (its batches cannot be replayed)');
    },
    reference: () => {
      throw new Error('data: no reference samples for a stream of batches');
    },
  };
}
