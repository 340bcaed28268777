import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  cast,
  compile,
  constantInt64,
  equal,
  greater,
  greaterEqual,
  grad,
  less,
  lessEqual,
  mul,
  sum,
  trace,
  where,
  type Value,
} from '../../../src/engine/index.ts';
import { runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const OPS = { greater, less, equal, greaterEqual, lessEqual } as const;
const REF: Record<keyof typeof OPS, (a: number, b: number) => boolean> = {
  greater: (a, b) => a > b,
  less: (a, b) => a < b,
  equal: (a, b) => a === b,
  greaterEqual: (a, b) => a >= b,
  lessEqual: (a, b) => a <= b,
};

test('comparisons produce bool values equal to the JS operators, with broadcasting and ties', async () => {
  const a = NDArray.from([
      [0.5, -1, 2],
      [1, 1, -3],
    ]),
    b = NDArray.from([1, -1, 2]);
  for (const [name, op] of Object.entries(OPS) as [keyof typeof OPS, (x: Value, y: Value) => Value][]) {
    const g = trace(
      (x: Value, y: Value) => {
        const c = op(x, y);
        assert.equal(c.dtype, 'bool');
        return cast(c, 'float32');
      },
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [3] },
      ],
    );
    const [y] = await (await compile(g)).run([a, b]);
    const ref = a.toArray().map((v, i) => (REF[name](v, b.data[i % 3]) ? 1 : 0));
    assert.deepEqual(y.toArray(), ref, name);
  }
});

test('a number operand takes the dtype of the other side (float32 or int64)', async () => {
  const f = await compile(trace(() => cast(greaterEqual(constantInt64([-2, 0, 3]), 0), 'float32'), []));
  assert.deepEqual((await f.run([]))[0].toArray(), [0, 1, 1]);
  const x = NDArray.from([-1, 0.25, 0.5]);
  assert.deepEqual((await runFn((v: Value) => cast(less(0.25, v), 'float32'), [x])).toArray(), [0, 0, 1]);
});

test('comparisons match PyTorch (as floats, and inside where with gradients)', async () => {
  await checkTorchFile('compare.json', (c) => {
    const op = OPS[c.attrs!.cmp as keyof typeof OPS];
    return c.name.includes('where')
      ? (a: Value, b: Value) => where(op(a, b), mul(a, a), mul(b, 2))
      : (a: Value, b: Value) => cast(op(a, b), 'float32');
  });
});

test('comparisons have no gradient: grad through them is zero', async () => {
  const g = trace((x: Value) => grad(sum(cast(greater(x, 0), 'float32')), [x])[0], [{ name: 'x', shape: [3] }]);
  assert.deepEqual((await (await compile(g)).run([NDArray.from([-1, 1, 2])]))[0].toArray(), [0, 0, 0]);
});

test('comparisons with a symbolic batch dimension equal the static graph', async () => {
  const f = (x: Value, y: Value) => cast(lessEqual(x, y), 'float32');
  const shape = await checkSymbolic(f, [testData([3, 4], 1), testData([4], 2)], [['batch', 4], [4]], []);
  assert.deepEqual([...shape], ['batch', 4]);
});

test('comparisons reject shapes that do not broadcast, mixed dtypes and ordering bools', () => {
  assertTraceError(
    (a, b) => greater(a, b),
    [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [4] },
    ],
    'greater',
    '[2, 3]',
    '[4]',
    'do not broadcast',
  );
  assertTraceError(
    (a, b) => equal(a, b),
    [
      { name: 'a', shape: [2] },
      { name: 'b', shape: [2], dtype: 'int64' },
    ],
    'equal',
    'float32',
    'int64',
  );
  assertTraceError((a) => less(greater(a, 0), greater(a, 1)), [{ name: 'a', shape: [2] }], 'less', 'cannot order bool');
  assert.throws(
    () => trace((a) => greater(a, 0.5), [{ name: 'a', shape: [2], dtype: 'int64' }]),
    /greater: the number 0.5 is compared with an int64 value/,
  );
});
