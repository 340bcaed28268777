/**
 * Graph clean-up passes (src/engine/optimize): each rewrite on a small graph (node counts from
 * the structure, values from closed forms), and the optimised graphs of a small UNet forward + all
 * its gradients against the same graphs compiled without the passes (equal within float32 rounding:
 * the passes are exact, ONNX Runtime may fuse the two graphs differently).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NDArray,
  Philox,
  add,
  compile,
  constant,
  div,
  grad,
  liveNodes,
  matmul,
  mean,
  mul,
  neg,
  permute,
  reshape,
  sigmoid,
  square,
  sub,
  toOnnx,
  trace,
  type Graph,
  type Value,
} from '../../src/engine/index.ts';
import { optimizeGraph, rematerialize } from '../../src/engine/optimize/index.ts';
import { UNet2DModel } from '../../src/models/unet2d.ts';
import { withParams } from '../../src/nn/module.ts';

const count = (g: Graph, op: string): number => liveNodes(g).filter((n) => n.op === op).length;

async function runBoth(g: Graph, feeds: Record<string, NDArray>): Promise<[NDArray[], NDArray[], Graph]> {
  const { graph } = optimizeGraph(g);
  const plain = await (await compile(g, { optimize: false })).run(feeds);
  const opt = await (await compile(g)).run(feeds);
  return [plain, opt, graph];
}

function assertClose(a: NDArray, b: NDArray, what: string, rtol = 1e-5, atol = 1e-6): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  for (let i = 0; i < a.size; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (!(d <= atol + rtol * Math.abs(b.data[i]))) assert.fail(`${what}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  }
}

test('CSE merges equal subexpressions and equal constants', async () => {
  const g = trace((x: Value) => add(sigmoid(mul(x, 2)), sigmoid(mul(x, 2))), [{ name: 'x', shape: [4] }]);
  assert.equal(count(g, 'mul'), 2);
  assert.equal(count(g, 'constant'), 2);
  const [plain, opt, og] = await runBoth(g, { x: NDArray.from([-1, 0, 0.5, 3]) });
  assert.equal(count(og, 'mul'), 1);
  assert.equal(count(og, 'sigmoid'), 1);
  assert.equal(count(og, 'constant'), 1);
  const expect = [-1, 0, 0.5, 3].map((v) => 2 / (1 + Math.exp(-2 * v)));
  assertClose(opt[0], new NDArray([4], Float32Array.from(expect)), 'optimised');
  assert.deepEqual(opt[0].toArray(), plain[0].toArray());
});

test('transposes cancel or compose; reshapes chain into one', async () => {
  const x = NDArray.from(Array.from({ length: 24 }, (_, i) => i)).reshape([2, 3, 4]);
  // transpose twice by [1, 0, 2] is the identity
  const g1 = trace((v: Value) => add(permute(permute(v, [1, 0, 2]), [1, 0, 2]), 1), [{ name: 'x', shape: [2, 3, 4] }]);
  const [p1, o1, og1] = await runBoth(g1, { x });
  assert.equal(count(og1, 'transpose'), 0);
  assert.deepEqual(o1[0].toArray(), p1[0].toArray());
  assert.deepEqual(o1[0].data.slice(0, 3), Float32Array.from([1, 2, 3]));
  // [1, 2, 0] twice = [2, 0, 1]: one transpose
  const g2 = trace((v: Value) => permute(permute(v, [1, 2, 0]), [1, 2, 0]), [{ name: 'x', shape: [2, 3, 4] }]);
  const [p2, o2, og2] = await runBoth(g2, { x });
  assert.equal(count(og2, 'transpose'), 1);
  assert.deepEqual(og2.outputs[0].shape, [4, 2, 3]);
  assert.deepEqual(o2[0].toArray(), p2[0].toArray());
  // x[a, b, c] lands at [c, a, b]: element [1, 2, 3] of x = 12 + 8 + 3 = 23 at out[3, 1, 2]
  assert.equal(o2[0].data[3 * 6 + 1 * 3 + 2], 23);
  // reshape -> reshape -> reshape: one reshape; reshape to the own shape: none
  const g3 = trace((v: Value) => reshape(reshape(reshape(v, [6, 4]), [4, 6]), [24]), [{ name: 'x', shape: [2, 3, 4] }]);
  const [p3, o3, og3] = await runBoth(g3, { x });
  assert.equal(count(og3, 'reshape'), 1);
  assert.deepEqual(o3[0].toArray(), p3[0].toArray());
  assert.deepEqual(o3[0].toArray(), Array.from(x.data));
});

test('reshape chains keep a symbolic batch dimension', async () => {
  const g = trace((v: Value) => reshape(reshape(v, ['n', 12]), ['n', 3, 4]), [{ name: 'x', shape: ['n', 2, 6] }]);
  const { graph } = optimizeGraph(g);
  assert.equal(count(graph, 'reshape'), 1);
  assert.match(Buffer.from(toOnnx(graph)).toString('latin1'), /n/);
  const f = await compile(g);
  for (const n of [1, 3]) {
    const x = new NDArray(
      [n, 2, 6],
      Float32Array.from({ length: n * 12 }, (_, i) => i),
    );
    const [y] = await f.run({ x });
    assert.deepEqual(y.shape, [n, 3, 4]);
    assert.deepEqual(Array.from(y.data), Array.from(x.data));
  }
});

test('constants fold on the host: arithmetic, weight transposes, small broadcasts; big expansions stay', async () => {
  const w = new NDArray([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
  const g = trace(
    (x: Value) => {
      const s = div(add(mul(constant(NDArray.from([3])), 2), 1), 7); // (3 * 2 + 1) / 7 = 1
      return matmul(mul(x, s), permute(constant(w), [1, 0])); // x @ w^T
    },
    [{ name: 'x', shape: [1, 3] }],
  );
  const [plain, opt, og] = await runBoth(g, { x: NDArray.from([[1, 0, -1]]) });
  assert.equal(count(og, 'transpose'), 0, 'the weight transpose is folded');
  assert.equal(count(og, 'div'), 0);
  assert.equal(count(og, 'mul'), 0, 'x * 1 after folding the scalar chain');
  assert.deepEqual(opt[0].toArray(), [1 - 3, 4 - 6]);
  assert.deepEqual(opt[0].toArray(), plain[0].toArray());

  const big = trace(
    (x: Value) =>
      add(x, mul(constant(NDArray.from([2])), constant(new NDArray([64, 64], new Float32Array(4096).fill(1.5))))),
    [{ name: 'x', shape: [64, 64] }],
  );
  const { graph } = optimizeGraph(big);
  assert.equal(count(graph, 'mul'), 0, 'a [64, 64] result of a [64, 64] constant folds (no growth)');
  const grow = trace(
    (x: Value) =>
      add(
        x,
        mul(
          constant(new NDArray([1, 8192], new Float32Array(8192).fill(2))),
          constant(new NDArray([4, 1], new Float32Array(4).fill(3))),
        ),
      ),
    [{ name: 'x', shape: [4, 8192] }],
  );
  assert.equal(count(optimizeGraph(grow).graph, 'mul'), 1, 'a product 4x larger than its inputs is not folded');
});

test('exact identities: x * 1, x + 0, x - 0, x / 1, neg(neg(x))', async () => {
  const g = trace((x: Value) => neg(neg(div(sub(add(mul(x, 1), 0), 0), 1))), [{ name: 'x', shape: [3] }]);
  const [plain, opt, og] = await runBoth(g, { x: NDArray.from([1.5, -2, 0]) });
  assert.equal(liveNodes(og).length, 1, 'only the identity that names the output is left');
  assert.deepEqual(opt[0].toArray(), [1.5, -2, 0]);
  assert.deepEqual(plain[0].toArray(), [1.5, -2, 0]);
  // x * 1 where the 1 broadcasts x to a larger shape is kept
  const g2 = trace(
    (x: Value) => mul(x, constant(new NDArray([2, 3], new Float32Array(6).fill(1)))),
    [{ name: 'x', shape: [3] }],
  );
  assert.equal(count(optimizeGraph(g2).graph, 'mul'), 1);
});

test('outputs keep their names when they collapse onto an input or onto each other', async () => {
  const g = trace((x: Value) => ({ a: mul(x, 1), b: square(x), c: square(x) }), [{ name: 'x', shape: [2] }]);
  const { graph } = optimizeGraph(g);
  assert.deepEqual(
    graph.outputs.map((v) => v.name),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    graph.inputs.map((v) => v.name),
    ['x'],
  );
  const f = await compile(g);
  assert.deepEqual(f.outputNames, ['a', 'b', 'c']);
  const [a, b, c] = await f.run({ x: NDArray.from([3, -2]) });
  assert.deepEqual(
    [a.toArray(), b.toArray(), c.toArray()],
    [
      [3, -2],
      [9, 4],
      [9, 4],
    ],
  );
});

test('dead nodes are dropped and the traced graph is left untouched', () => {
  const g = trace(
    (x: Value) => {
      mul(x, 5);
      return add(x, 1);
    },
    [{ name: 'x', shape: [2] }],
  );
  const before = g.nodes.length;
  const { graph, after } = optimizeGraph(g);
  assert.equal(g.nodes.length, before);
  assert.equal(count(graph, 'mul'), 0);
  assert.equal(after, graph.nodes.length);
});

test('a small UNet: forward and every gradient equal with and without the passes', async () => {
  const unet = UNet2DModel.fromConfig({
    sample_size: 8,
    in_channels: 1,
    out_channels: 1,
    block_out_channels: [8, 16],
    layers_per_block: 1,
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
    norm_num_groups: 4,
    attention_head_dim: 4,
  });
  const params = unet.initParams(new Philox(3));
  const names = Object.keys(params);
  const g = trace(
    (x: Value, t: Value, ...ps: Value[]) => {
      const p = Object.fromEntries(names.map((n, i) => [n, ps[i]]));
      const loss = mean(square(withParams(unet, p, () => unet.forward(x, t))));
      return [loss, ...grad(loss, [x, ...ps])];
    },
    [
      { name: 'x', shape: [2, 1, 8, 8] },
      { name: 't', shape: [2] },
      ...names.map((n) => ({ name: `p.${n}`, shape: params[n].shape })),
    ],
  );
  const rng = new Philox(4);
  const feeds: Record<string, NDArray> = { x: rng.normal([2, 1, 8, 8]), t: NDArray.from([10, 700]) };
  for (const n of names) feeds[`p.${n}`] = params[n];
  const [plain, opt, og] = await runBoth(g, feeds);
  assert.ok(
    liveNodes(og).length < liveNodes(g).length,
    `fewer nodes (${liveNodes(g).length} -> ${liveNodes(og).length})`,
  );
  assert.equal(plain.length, opt.length);
  plain.forEach((a, i) => {
    const scale = Math.max(...Array.from(a.data, Math.abs), 1e-30);
    assertClose(opt[i], a, `output ${i} (${g.outputs[i].name})`, 1e-4, 1e-6 * scale);
  });
});

test('rematerialisation (elementwise, all): same loss and gradients within float32 rounding, copies in the backward pass', async () => {
  const unet = UNet2DModel.fromConfig({
    sample_size: 8,
    in_channels: 1,
    out_channels: 1,
    block_out_channels: [8, 16],
    layers_per_block: 1,
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
    norm_num_groups: 4,
    attention_head_dim: 4,
  });
  const params = unet.initParams(new Philox(5));
  const names = Object.keys(params);
  const g = trace(
    (x: Value, t: Value, ...ps: Value[]) => {
      const p = Object.fromEntries(names.map((n, i) => [n, ps[i]]));
      const loss = mean(square(withParams(unet, p, () => unet.forward(x, t))));
      return { loss, ...Object.fromEntries(grad(loss, ps).map((d, i) => [`g.${names[i]}`, d])) };
    },
    [
      { name: 'x', shape: [2, 1, 8, 8] },
      { name: 't', shape: [2] },
      ...names.map((n) => ({ name: `p.${n}`, shape: params[n].shape })),
    ],
  );
  const feeds: Record<string, NDArray> = { x: new Philox(6).normal([2, 1, 8, 8]), t: NDArray.from([3, 900]) };
  for (const n of names) feeds[`p.${n}`] = params[n];
  const base = await (await compile(g)).run(feeds);
  const opt = optimizeGraph(g).graph;
  for (const policy of ['elementwise', 'all'] as const) {
    const r = rematerialize(opt, { policy });
    assert.ok(r.recomputed > 0 && r.recomputed <= r.saved, `${policy}: ${r.recomputed} of ${r.saved} recomputed`);
    assert.ok(liveNodes(r.graph).length > liveNodes(opt).length, 'the copies are extra nodes');
    const out = await (await compile(g, { remat: policy })).run(feeds);
    // the same ops on the same inputs; ONNX Runtime fuses the rewritten graph differently (e.g. SiLU), hence rounding
    base.forEach((a, i) => {
      // tolerance: float32 accumulation error relative to the largest entry (to_k.bias has an exactly zero
      // gradient: its entries are rounding noise, hence the floor of the scale)
      const scale = Math.max(...Array.from(a.data, Math.abs), 1e-3);
      assertClose(out[i], a, `${policy}: output ${g.outputs[i].name}`, 1e-4, 2e-5 * scale);
    });
  }
  // graphs without a 'loss' output are left alone
  const inf = trace((x: Value) => sigmoid(mul(x, 3)), [{ name: 'x', shape: [4] }]);
  assert.equal(rematerialize(inf).recomputed, 0);
});
