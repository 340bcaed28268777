import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  add,
  arange,
  cast,
  compile,
  grad,
  iota,
  mul,
  sum,
  trace,
  type Value,
} from '../../../src/engine/index.ts';
import { runFn } from '../_gradcheck.ts';

test('arange(n) is 0..n-1 as float32 or int64 (torch.arange)', async () => {
  const f = await compile(trace(() => [arange(5), cast(arange(4, { dtype: 'int64' }), 'float32'), arange(0)], []));
  const [a, b, c] = await f.run([]);
  assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
  assert.deepEqual(b.toArray(), [0, 1, 2, 3]);
  assert.deepEqual([...c.shape], [0]);
  assert.equal(iota, arange);
});

test('arange of a symbolic size reads it at run time from a like value', async () => {
  const g = trace(
    (x: Value) => {
      const r = arange('batch', { like: x });
      const ri = arange('batch', { like: x, dtype: 'int64', axis: 0 });
      assert.deepEqual([...r.shape], ['batch']);
      return [r, cast(ri, 'float32')];
    },
    [{ name: 'x', shape: ['batch', 2] }],
  );
  const f = await compile(g);
  for (const n of [1, 4]) {
    const [r, ri] = await f.run([NDArray.zeros([n, 2])]);
    assert.deepEqual(r.toArray(), [...Array(n).keys()]);
    assert.deepEqual(ri.toArray(), [...Array(n).keys()]);
  }
});

test('arange has no gradient (it is a constant)', async () => {
  const y = await runFn((x: Value) => grad(sum(mul(add(arange(3), x), x)), [x])[0], [NDArray.from([1, 1, 1])]);
  // d/dx sum((r + x) x) = r + 2x with r constant
  assert.deepEqual(y.toArray(), [2, 3, 4]);
});

test('arange rejects bad sizes, dtypes, and symbolic sizes without a matching like value', () => {
  assert.throws(() => trace(() => arange(2.5), []), /arange: n must be a non-negative integer, got 2.5/);
  assert.throws(
    () => trace(() => arange(3, { dtype: 'bool' as never }), []),
    /arange: dtype "bool" is not supported \(allowed: float32, int64\)/,
  );
  assert.throws(() => trace(() => arange('batch'), []), /arange: symbolic n 'batch' needs a 'like' value/);
  assert.throws(
    () => trace((x) => arange('batch', { like: x }), [{ name: 'x', shape: ['n', 2] }]),
    /iota: dimension 0 of the 'like' value is n, not 'batch' \(input shapes \[n, 2\]/,
  );
});
