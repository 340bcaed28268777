/**
 * Mini-batches with a seeded shuffle per epoch, resumable exactly.
 *
 * The order of epoch e is the Fisher–Yates permutation drawn by `new Philox(seed).fold(e)` — a pure
 * function of (seed, epoch, data set size) — so the loader's whole state is (epoch, position), and
 * `DataLoader.fromState(dataset, loader.state())` continues with exactly the batches the original
 * would have produced (also across processes and platforms: Philox is bit-exact everywhere).
 *
 * With `dropLast` (default, as for training) the tail of each epoch that does not fill a batch is
 * skipped and the next epoch starts; without it the last batch of an epoch is smaller.
 *
 * @example
 *   const loader = new DataLoader(tensorDataset(images, labels), { batchSize: 64, seed: 0 });
 *   const { batch, epoch } = loader.next();          // batch.x [64, 1, 28, 28], batch.labels
 *   fs.writeFileSync('loader.json', JSON.stringify(loader.state()));
 *   const resumed = DataLoader.fromState(tensorDataset(images, labels), JSON.parse(text));
 */
import { NDArray } from '../engine/ndarray.ts';
import { Philox } from '../engine/rng.ts';

/** Anything indexable: a length and a way to gather a batch of rows. */
export interface Dataset<B> {
  readonly length: number;
  /** The items at `indices`, as one batch. */
  gather(indices: Uint32Array): B;
}

/** A batch of a tensorDataset. */
export interface TensorBatch {
  x: NDArray;
  labels?: Int32Array;
}

/**
 * Rows of x (first axis) with optional integer labels.
 * @example tensorDataset(NDArray.zeros([100, 2])).gather(Uint32Array.of(3, 7)).x.shape // [2, 2]
 */
export function tensorDataset(x: NDArray, labels?: ArrayLike<number>): Dataset<TensorBatch> {
  if (x.ndim < 1) throw new Error('tensorDataset: x must have at least one axis (the samples)');
  const n = x.shape[0];
  if (labels && labels.length !== n) throw new Error(`tensorDataset: ${labels.length} labels for ${n} samples`);
  const row = n === 0 ? 0 : x.size / n;
  const rest = x.shape.slice(1);
  return {
    length: n,
    gather(indices) {
      const out = new NDArray([indices.length, ...rest]);
      for (let i = 0; i < indices.length; i++) {
        const k = indices[i];
        if (k >= n) throw new Error(`tensorDataset: index ${k} is out of range (0..${n - 1})`);
        out.data.set(x.data.subarray(k * row, (k + 1) * row), i * row);
      }
      const batch: TensorBatch = { x: out };
      if (labels) batch.labels = Int32Array.from(indices, (k) => labels[k]);
      return batch;
    },
  };
}

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle seed (non-negative integer < 2^53, or a bigint < 2^64). */
  seed: number | bigint;
  /** Shuffle each epoch (default true); false = items in order. */
  shuffle?: boolean;
  /** Skip an epoch's incomplete last batch (default true). */
  dropLast?: boolean;
}

/** JSON-able loader state: configuration + position (the seed as a decimal string, exact beyond 2^53). */
export interface DataLoaderState {
  version: 1;
  seed: string;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  datasetLength: number;
  /** Epoch of the next batch (0-based). */
  epoch: number;
  /** Index into that epoch's order where the next batch starts. */
  position: number;
}

/** One batch and where it came from. */
export interface LoaderBatch<B> {
  batch: B;
  /** Data set indices of the batch's items. */
  indices: Uint32Array;
  epoch: number;
  /** Batch number within the epoch (0-based). */
  step: number;
}

export class DataLoader<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly seed: bigint;
  private readonly rng: Philox;
  private epochIndex = 0;
  private pos = 0;
  private order: Uint32Array | undefined;
  private orderEpoch = -1;

  constructor(
    readonly dataset: Dataset<B>,
    options: DataLoaderOptions,
  ) {
    const { batchSize } = options;
    const n = dataset.length;
    if (!Number.isInteger(n) || n < 1) throw new Error(`DataLoader: the data set is empty (length ${n})`);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`DataLoader: batchSize = ${batchSize} must be a positive integer`);
    this.dropLast = options.dropLast ?? true;
    this.shuffle = options.shuffle ?? true;
    if (this.dropLast && batchSize > n) {
      throw new Error(
        `DataLoader: batchSize ${batchSize} exceeds the data set size ${n}; with dropLast no batch would ever be produced (use a smaller batch or dropLast: false)`,
      );
    }
    this.batchSize = batchSize;
    const s = options.seed;
    if (typeof s === 'bigint' ? s < 0n || s >= 1n << 64n : !Number.isSafeInteger(s) || s < 0) {
      throw new Error(`DataLoader: seed = ${String(s)} must be a non-negative integer (< 2^53, or a bigint < 2^64)`);
    }
    this.seed = BigInt(s);
    this.rng = new Philox(this.seed);
  }

  /** Epoch of the next batch. */
  get epoch(): number {
    return this.epochIndex;
  }
  /** Position of the next batch within its epoch's order. */
  get position(): number {
    return this.pos;
  }
  /** Batches per epoch. @example new DataLoader(ds10, { batchSize: 4, seed: 0 }).batchesPerEpoch // 2 */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * The order of the items in `epoch` (a permutation of 0..N-1, or 0..N-1 without shuffle).
   * @example loader.epochOrder(3)
   */
  epochOrder(epoch: number): Uint32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0)
      throw new Error(`DataLoader.epochOrder: epoch = ${epoch} must be a non-negative integer`);
    if (this.orderEpoch === epoch && this.order) return this.order;
    const n = this.dataset.length;
    const order = this.shuffle ? this.rng.fold(epoch).permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
    this.order = order;
    this.orderEpoch = epoch;
    return order;
  }

  /** The next batch (epochs roll over forever). @example const { batch } = loader.next(); */
  next(): LoaderBatch<B> {
    const n = this.dataset.length;
    if (this.pos >= n || (this.dropLast && this.pos + this.batchSize > n)) {
      this.epochIndex++;
      this.pos = 0;
    }
    const order = this.epochOrder(this.epochIndex);
    const end = Math.min(this.pos + this.batchSize, n);
    const indices = order.slice(this.pos, end);
    const step = Math.floor(this.pos / this.batchSize);
    const epoch = this.epochIndex;
    this.pos = end;
    return { batch: this.dataset.gather(indices), indices, epoch, step };
  }

  /** Infinite iterator over batches. @example for (const { batch } of loader) { ...; if (done) break; } */
  *[Symbol.iterator](): Iterator<LoaderBatch<B>> {
    for (;;) yield this.next();
  }

  /** JSON-able state; `DataLoader.fromState` resumes exactly here. @example JSON.stringify(loader.state()) */
  state(): DataLoaderState {
    return {
      version: 1,
      seed: this.seed.toString(),
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      dropLast: this.dropLast,
      datasetLength: this.dataset.length,
      epoch: this.epochIndex,
      position: this.pos,
    };
  }

  /**
   * A loader that continues exactly where the saved one stopped. The data set must have the saved length.
   * @example const loader = DataLoader.fromState(dataset, JSON.parse(fs.readFileSync('loader.json', 'utf8')));
   */
  static fromState<B>(dataset: Dataset<B>, state: DataLoaderState): DataLoader<B> {
    const s = state as Partial<DataLoaderState> | null;
    if (!s || typeof s !== 'object' || s.version !== 1)
      throw new Error(
        `DataLoader.fromState: expected a state object with version 1, got ${JSON.stringify(state)?.slice(0, 100)}`,
      );
    if (typeof s.seed !== 'string' || !/^\d+$/.test(s.seed))
      throw new Error(`DataLoader.fromState: seed = ${JSON.stringify(s.seed)} must be a decimal string`);
    for (const k of ['batchSize', 'datasetLength', 'epoch', 'position'] as const) {
      if (!Number.isSafeInteger(s[k]) || (s[k] as number) < 0)
        throw new Error(`DataLoader.fromState: ${k} = ${JSON.stringify(s[k])} must be a non-negative integer`);
    }
    for (const k of ['shuffle', 'dropLast'] as const) {
      if (typeof s[k] !== 'boolean')
        throw new Error(`DataLoader.fromState: ${k} = ${JSON.stringify(s[k])} must be true or false`);
    }
    if (dataset.length !== s.datasetLength) {
      throw new Error(
        `DataLoader.fromState: the data set has ${dataset.length} items but the saved state is for ${s.datasetLength}; resuming would change the batch order (load the same data)`,
      );
    }
    if (s.position! > s.datasetLength!)
      throw new Error(
        `DataLoader.fromState: position ${s.position} is past the end of the data set (${s.datasetLength})`,
      );
    const loader = new DataLoader(dataset, {
      batchSize: s.batchSize!,
      seed: BigInt(s.seed),
      shuffle: s.shuffle,
      dropLast: s.dropLast,
    });
    loader.epochIndex = s.epoch!;
    loader.pos = s.position!;
    return loader;
  }
}
