import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, cast, compile, grad, mul, sum, trace, type DType, type Value } from '../../../src/engine/index.ts';
import { runFn } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const chain = (dtypes: DType[]) => (x: Value) => dtypes.reduce((v, d) => cast(v, d), x);

test('cast float32 -> int64 truncates toward zero; -> bool is x != 0; bool -> number is 0/1', async () => {
  const x = NDArray.from([-2.75, -1.5, -0.5, 0, 0.5, 1, 1.99, 3.5]);
  assert.deepEqual(
    (await runFn(chain(['int64', 'float32']), [x])).toArray(),
    x
      .toArray()
      .map(Math.trunc)
      .map((v) => v + 0),
  );
  assert.deepEqual(
    (await runFn(chain(['bool', 'float32']), [x])).toArray(),
    x.toArray().map((v) => (v !== 0 ? 1 : 0)),
  );
  assert.deepEqual(
    (await runFn(chain(['bool', 'int64', 'float32']), [x])).toArray(),
    x.toArray().map((v) => (v !== 0 ? 1 : 0)),
  );
});

test('cast chains match torch .long()/.bool()/.float()', async () => {
  await checkTorchFile('cast.json', (c) => chain(c.attrs!.chain as DType[]));
});

test('cast has no gradient, and casting to the same dtype returns the value itself', async () => {
  const g = trace(
    (x: Value) => {
      assert.equal(cast(x, 'float32'), x);
      return grad(sum(mul(cast(cast(x, 'int64'), 'float32'), x)), [x])[0];
    },
    [{ name: 'x', shape: [3] }],
  );
  // d/dx (trunc(x) * x) with trunc treated as constant = trunc(x)
  assert.deepEqual((await (await compile(g)).run([NDArray.from([1.5, -2.5, 3])]))[0].toArray(), [1, -2, 3]);
});

test('cast with a symbolic batch dimension equals the static graph', async () => {
  const shape = await checkSymbolic(
    chain(['int64', 'float32']),
    [
      NDArray.from([
        [1.5, -2.5],
        [0.5, 7.25],
        [3, -0.75],
      ]),
    ],
    [['batch', 2]],
    [],
  );
  assert.deepEqual([...shape], ['batch', 2]);
});

test('cast rejects an unsupported dtype, listing the allowed ones', () => {
  assertTraceError(
    (x) => cast(x, 'float16' as DType),
    [{ name: 'x', shape: [2, 3] }],
    'cast',
    '"float16"',
    'float32, int64, bool',
    '[2, 3]',
  );
});
