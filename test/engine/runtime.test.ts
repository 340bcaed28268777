import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  add,
  apply1,
  clearCache,
  compile,
  mul,
  registerOp,
  trace,
  type Value,
} from '../../src/engine/index.ts';

test('compile caches one session per graph signature', async () => {
  const mk = () => trace((x: Value) => add(x, 1), [{ name: 'x', shape: [3] }]);
  const a = await compile(mk()),
    b = await compile(mk());
  assert.equal(a, b);
  const [y] = await a.run({ x: NDArray.from([1, 2, 3]) });
  assert.deepEqual(y.toArray(), [2, 3, 4]);
});

test('executionMode and interOpNumThreads reach ONNX Runtime: a parallel session is its own and computes the same', async () => {
  // two independent branches, so the parallel executor has something to run side by side
  const mk = () => trace((x: Value) => add(mul(x, 3), mul(add(x, 1), x)), [{ name: 'x', shape: [4] }]);
  const seq = await compile(mk());
  const par = await compile(mk(), { executionMode: 'parallel', interOpNumThreads: 2 });
  assert.notEqual(seq, par);
  const x = NDArray.from([1, -2, 0.5, 4]);
  const expected = [1, -2, 0.5, 4].map((v) => 3 * v + (v + 1) * v);
  assert.deepEqual((await seq.run({ x }))[0]!.toArray(), expected);
  assert.deepEqual((await par.run({ x }))[0]!.toArray(), expected);
});

test('clearCache releases the cached sessions: the next compile makes a new one that still runs', async () => {
  const mk = () => trace((x: Value) => add(x, 2), [{ name: 'x', shape: [2] }]);
  const a = await compile(mk());
  await clearCache();
  const b = await compile(mk());
  assert.notEqual(a, b);
  assert.deepEqual((await b.run({ x: NDArray.from([1, 2]) }))[0]!.toArray(), [3, 4]);
});

test('a runtime failure names the traced op and its caller, not a bare native error', async () => {
  const f = await compile(
    trace(
      (a: Value, b: Value) => add(a, b),
      [
        { name: 'a', shape: ['n', 2] },
        { name: 'b', shape: ['n', 2] },
      ],
    ),
  );
  await assert.rejects(
    f.run({ a: NDArray.zeros([3, 2]), b: NDArray.zeros([4, 2]) }),
    (e: Error) => /op 'add'/.test(e.message) && /runtime\.test\.ts/.test(e.message),
  );
});

test('a graph ONNX Runtime rejects at load time is reported with the op name', async () => {
  registerOp({
    name: 'test_bogus',
    infer: (inputs) => [{ shape: inputs[0].shape, dtype: 'float32' }],
    lower: (ctx, node) => {
      ctx.emit('NoSuchOnnxOp', [ctx.name(node.inputs[0])], {}, ctx.outputs(node));
    },
  });
  const g = trace((x: Value) => apply1('test_bogus', [x]), [{ name: 'x', shape: [2] }]);
  await assert.rejects(
    compile(g),
    (e: Error) => /op 'test_bogus'/.test(e.message) && /runtime\.test\.ts/.test(e.message),
  );
});

test('run checks input names and static shapes', async () => {
  const f = await compile(trace((x: Value) => add(x, 1), [{ name: 'x', shape: [3] }]));
  await assert.rejects(f.run({ y: NDArray.zeros([3]) } as never), /missing input 'x'/);
  await assert.rejects(f.run({ x: NDArray.zeros([4]) }), /input 'x' has shape \[4\], the graph expects \[3\]/);
});

test('run writes into preallocated output arrays when given, and checks them', async () => {
  const f = await compile(trace((x: Value) => ({ y: add(x, 1), z: add(x, 2) }), [{ name: 'x', shape: [3] }]));
  const y = NDArray.zeros([3]);
  const [y1, z1] = await f.run({ x: NDArray.from([1, 2, 3]) }, { outputs: { y } });
  assert.equal(y1, y, 'the given array is returned');
  assert.deepEqual(y.toArray(), [2, 3, 4]);
  assert.deepEqual(z1.toArray(), [3, 4, 5]);
  // recycle: the next run writes into the same memory
  await f.run({ x: NDArray.from([10, 20, 30]) }, { outputs: { y } });
  assert.deepEqual(y.toArray(), [11, 21, 31]);
  await assert.rejects(
    f.run({ x: NDArray.from([1, 2, 3]) }, { outputs: { w: NDArray.zeros([3]) } }),
    /unknown output 'w'/,
  );
  await assert.rejects(
    f.run({ x: NDArray.from([1, 2, 3]) }, { outputs: { y: NDArray.zeros([4]) } }),
    /output buffer 'y' has shape \[4\]/,
  );
  const x = NDArray.from([1, 2, 3]);
  await assert.rejects(f.run({ x }, { outputs: { y: x } }), /shares memory with an input/);
});
