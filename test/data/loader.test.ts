import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { Philox } from '../../src/engine/rng.ts';
import { DataLoader, tensorDataset, type DataLoaderState } from '../../src/data/loader.ts';

const N = 23;
const ds = () =>
  tensorDataset(
    new NDArray(
      [N, 2],
      Array.from({ length: 2 * N }, (_, i) => i),
    ),
    Array.from({ length: N }, (_, i) => 100 + i),
  );

test('each epoch visits every item once, in the Philox(seed).fold(epoch) permutation', () => {
  const loader = new DataLoader(ds(), { batchSize: 5, seed: 42, dropLast: false });
  assert.equal(loader.batchesPerEpoch, 5);
  for (let e = 0; e < 3; e++) {
    const seen: number[] = [];
    for (let b = 0; b < 5; b++) {
      const { indices, epoch, step, batch } = loader.next();
      assert.equal(epoch, e);
      assert.equal(step, b);
      assert.equal(indices.length, b < 4 ? 5 : 3);
      indices.forEach((k, i) => {
        assert.deepEqual([batch.x.data[2 * i], batch.x.data[2 * i + 1]], [2 * k, 2 * k + 1]);
        assert.equal(batch.labels![i], 100 + k);
      });
      seen.push(...indices);
    }
    assert.deepEqual(seen, [...new Philox(42).fold(e).permutation(N)]);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i),
    );
  }
});

test('dropLast skips the incomplete tail; shuffle: false keeps the order; seeds differ', () => {
  const l = new DataLoader(ds(), { batchSize: 10, seed: 1 });
  assert.equal(l.batchesPerEpoch, 2);
  assert.deepEqual([l.next().epoch, l.next().epoch, l.next().epoch], [0, 0, 1]);
  const s = new DataLoader(ds(), { batchSize: 10, seed: 1, shuffle: false });
  assert.deepEqual([...s.next().indices], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const a = new DataLoader(ds(), { batchSize: 10, seed: 1 }).next().indices,
    b = new DataLoader(ds(), { batchSize: 10, seed: 2 }).next().indices;
  assert.notDeepEqual(a, b);
});

test('state() / fromState() resume with exactly the batches of the uninterrupted loader (across epochs, via JSON)', () => {
  for (const opts of [
    { batchSize: 4, seed: 7 },
    { batchSize: 5, seed: 2n ** 63n + 5n, dropLast: false },
    { batchSize: 23, seed: 0 },
  ]) {
    const ref = new DataLoader(ds(), opts);
    const refBatches = Array.from({ length: 40 }, () => [...ref.next().indices]);
    for (const cut of [0, 1, 5, 6, 17]) {
      const l = new DataLoader(ds(), opts);
      for (let i = 0; i < cut; i++) l.next();
      const saved = JSON.parse(JSON.stringify(l.state())) as DataLoaderState;
      const resumed = DataLoader.fromState(ds(), saved);
      for (let i = cut; i < 40; i++)
        assert.deepEqual(
          [...resumed.next().indices],
          refBatches[i],
          `opts ${JSON.stringify(opts, (_, v) => (typeof v === 'bigint' ? String(v) : v))} cut ${cut} batch ${i}`,
        );
    }
  }
});

test('bad configuration and mismatched state are named', () => {
  assert.throws(() => new DataLoader(ds(), { batchSize: 0, seed: 0 }), /batchSize = 0/);
  assert.throws(
    () => new DataLoader(ds(), { batchSize: 24, seed: 0 }),
    /batchSize 24 exceeds the data set size 23; with dropLast/,
  );
  assert.throws(() => new DataLoader(ds(), { batchSize: 2, seed: -1 }), /seed = -1/);
  assert.throws(
    () => new DataLoader(tensorDataset(NDArray.zeros([0, 2])), { batchSize: 1, seed: 0 }),
    /the data set is empty/,
  );
  const st = new DataLoader(ds(), { batchSize: 4, seed: 3 }).state();
  assert.throws(
    () => DataLoader.fromState(tensorDataset(NDArray.zeros([22, 2])), st),
    /the data set has 22 items but the saved state is for 23/,
  );
  assert.throws(() => DataLoader.fromState(ds(), { ...st, position: -1 }), /position = -1/);
  assert.throws(() => DataLoader.fromState(ds(), { ...st, seed: 'x' }), /seed = "x"/);
  assert.throws(() => DataLoader.fromState(ds(), null as never), /version 1/);
  assert.throws(() => tensorDataset(NDArray.zeros([3, 2]), [1, 2]), /2 labels for 3 samples/);
});
