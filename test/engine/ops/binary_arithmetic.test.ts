/**
 * add, sub, mul, div: one table-driven suite (the ops differ only by the operator and, for div, by a
 * divisor range kept away from 0). Each row is checked against the JS operator, finite differences,
 * PyTorch golden values (test/fixtures/ops/<op>.json), a symbolic batch dimension and bad inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, add, div, mul, sub, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

interface Row {
  name: string;
  op: (a: Value, b: Value | number) => Value;
  ref: (a: number, b: number) => number;
  /** Range of the second operand's test data. */
  lo: number;
  hi: number;
}

const ROWS: Row[] = [
  { name: 'add', op: add, ref: (a, b) => a + b, lo: -1, hi: 1 },
  { name: 'sub', op: sub, ref: (a, b) => a - b, lo: -1, hi: 1 },
  { name: 'mul', op: mul, ref: (a, b) => a * b, lo: -1, hi: 1 },
  { name: 'div', op: div, ref: (a, b) => a / b, lo: 0.5, hi: 2 },
];

for (const { name, op, ref, lo, hi } of ROWS) {
  const f = (a: Value, b: Value) => op(a, b);
  const second = (shape: number[], seed: number) => testData(shape, seed, lo, hi);

  test(`${name} forward equals the JS operator, with numpy broadcasting`, async () => {
    const a = testData([2, 1, 3], 1),
      b = second([4, 1], 2);
    const y = await runFn(f, [a, b]);
    assert.deepEqual([...y.shape], [2, 4, 3]);
    const out: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) out.push(ref(a.data[i * 3 + k]!, b.data[j]!));
    assertClose(y, out, 1e-6, 1e-7);
    const s = await runFn((x: Value) => op(x, 2), [NDArray.from([1, -3])]);
    assertClose(s, [ref(1, 2), ref(-3, 2)], 1e-7, 0);
  });

  test(`${name} gradients match finite differences (broadcast operands are summed back)`, async () => {
    await gradcheck(f, [testData([2, 1, 3], 3), second([4, 1], 4)]);
    await gradcheck(f, [testData([3], 5), second([2, 3], 6)]);
  });

  test(`${name} forward and VJP match PyTorch`, async () => {
    await checkTorchFile(`${name}.json`, () => f);
  });

  test(`${name} with a symbolic batch dimension equals the static graph`, async () => {
    for (const n of [1, 3]) {
      const shape = await checkSymbolic(f, [testData([n, 3], n), second([3], n + 1)], [['batch', 3], [3]]);
      assert.deepEqual([...shape], ['batch', 3]);
      await checkSymbolic(
        f,
        [testData([n, 1], n + 2), second([n, 3], n + 3)],
        [
          ['batch', 1],
          ['batch', 3],
        ],
      );
    }
  });

  test(`${name} rejects shapes that do not broadcast and mixed dtypes, naming the op and both shapes`, () => {
    assertTraceError(
      f,
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [4] },
      ],
      name,
      '[2, 3]',
      '[4]',
      'do not broadcast',
    );
    assertTraceError(
      f,
      [
        { name: 'a', shape: [2] },
        { name: 'b', shape: [2], dtype: 'int64' },
      ],
      name,
      'float32',
      'int64',
    );
  });
}
