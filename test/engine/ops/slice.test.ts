import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, slice, type Value } from '../../../src/engine/index.ts';
import { assertClose, gradcheck, runFn, testData } from '../_gradcheck.ts';
import { assertTraceError, checkSymbolic, checkTorchFile } from './_opcheck.ts';

const sl = (st: number[], en: number[], ax?: number[], sp?: number[]) => (v: Value) => slice(v, st, en, ax, sp);

/** Indices selected by start:end:step on a dimension of size d, by the ONNX Slice rules written out. */
function onnxIndices(d: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + d : start,
    e = end < 0 ? end + d : end;
  const out: number[] = [];
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

test('slice forward of a vector equals the ONNX Slice index rules (clamping, negatives, steps, ±Infinity)', async () => {
  const x = NDArray.arange(7);
  const cases: [number, number, number][] = [
    [1, 4, 1],
    [-3, Infinity, 1],
    [0, 100, 3],
    [5, 1, 1],
    [-1, -Infinity, -1],
    [6, 0, -2],
    [10, -10, -3],
    [-20, 3, 1],
    [-20, -30, -1],
  ];
  for (const [s, e, k] of cases) {
    const y = await runFn(sl([s], [e], [0], [k]), [x]);
    assert.deepEqual(y.toArray(), onnxIndices(7, s, e, k), `${s}:${e}:${k}`);
  }
});

test('slice forward on several axes equals index arithmetic', async () => {
  const x = testData([3, 4, 5], 1);
  const y = await runFn(sl([1, -1, 0], [3, -5, 5], [0, 2, 1], [1, -2, 2]), [x]);
  assert.deepEqual([...y.shape], [2, 2, 2]);
  const ref: number[] = [];
  for (const i of [1, 2]) for (const j of [0, 2]) for (const k of [4, 2]) ref.push(x.data[i * 20 + j * 5 + k]);
  assertClose(y, ref, 0, 0);
});

test('slice gradient matches finite differences (steps 1, 2, 3 and negative)', async () => {
  const x = testData([3, 7], 2);
  await gradcheck(sl([1, 2], [3, 6], [0, 1]), [x]);
  await gradcheck(sl([0, 1], [Infinity, 7], [0, 1], [2, 3]), [x]);
  await gradcheck(sl([-1, 5], [-Infinity, 0], [0, 1], [-1, -2]), [x]);
});

test('slice forward and VJP match PyTorch index_select (steps, negative steps, empty)', async () => {
  await checkTorchFile('slice.json', (c) => {
    const a = c.attrs as { starts: number[]; ends: number[]; axes: number[]; steps: number[] };
    return sl(a.starts, a.ends, a.axes, a.steps);
  });
});

test('slice keeps a symbolic batch dimension whole and slices the others like the static graph', async () => {
  for (const n of [1, 3]) {
    assert.deepEqual(
      [...(await checkSymbolic(sl([0, 1], [Infinity, 5], [0, 1], [1, 2]), [testData([n, 6], n)], [['batch', 6]]))],
      ['batch', 2],
    );
    assert.deepEqual(
      [...(await checkSymbolic(sl([-1], [-Infinity], [1], [-1]), [testData([n, 6], n + 1)], [['batch', 6]]))],
      ['batch', 6],
    );
  }
});

test('slice rejects mismatched lists, zero steps, repeated axes and partial slices of symbolic dims', () => {
  assertTraceError(sl([0, 1], [1], [0]), [{ name: 'x', shape: [2, 3] }], 'slice', 'same length', '[2, 3]');
  assertTraceError(
    sl([0], [1], [1], [0]),
    [{ name: 'x', shape: [2, 3] }],
    'slice',
    'non-zero integers, got 0',
    '[2, 3]',
  );
  assertTraceError(sl([0, 0], [1, 1], [1, -1]), [{ name: 'x', shape: [2, 3] }], 'slice', 'repeat an axis');
  assertTraceError(
    sl([0], [1], [2]),
    [{ name: 'x', shape: [2, 3] }],
    'slice',
    'axis 2 out of range for rank 2',
    '[2, 3]',
  );
  assertTraceError(
    sl([1], [Infinity], [0]),
    [{ name: 'x', shape: ['batch', 3] }],
    'slice',
    "symbolic dimension 0 ('batch') can only be kept whole",
  );
});
