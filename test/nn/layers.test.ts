/**
 * The nn layers against plain-JS loops of their defining formulas (attention: Vaswani et al. 2017
 * eq. (1); group/layer norm: Wu & He 2018 eq. (1)-(3), Ba et al. 2016 eq. (4); nearest upsampling and
 * 2x2 average pooling), plus parameter names and bad-input errors. The full blocks are checked
 * against diffusers in test/models/unet2d.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox, compile, trace, type Value } from '../../src/engine/index.ts';
import { withParams, type Module } from '../../src/nn/module.ts';
import { Attention } from '../../src/nn/attention.ts';
import { GroupNorm } from '../../src/nn/group_norm.ts';
import { LayerNorm } from '../../src/nn/layer_norm.ts';
import { Linear } from '../../src/nn/linear.ts';
import { ResnetBlock2D } from '../../src/nn/resnet_block.ts';
import { Downsample2D } from '../../src/nn/downsample.ts';
import { Upsample2D } from '../../src/nn/upsample.ts';
import { TimestepEmbedding } from '../../src/nn/timestep_embedding.ts';
import { getActivation } from '../../src/nn/activations.ts';
import { testData } from '../engine/_gradcheck.ts';

async function run(m: Module, params: Record<string, NDArray>, x: NDArray, fwd: (x: Value) => Value): Promise<NDArray> {
  const f = await compile(trace((v: Value) => withParams(m, params, () => fwd(v)), [{ name: 'x', shape: x.shape }]));
  return (await f.run({ x }))[0];
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('Attention: names, and multi-head softmax(QK^T/sqrt(d))V + residual, / rescale, equal a JS loop', async () => {
  const C = 4,
    heads = 2,
    d = 2,
    H = 2,
    W = 3,
    L = H * W;
  const attn = new Attention(C, { heads, dimHead: d, bias: true, residualConnection: true, rescaleOutputFactor: 2 });
  assert.deepEqual(
    attn.namedParameters().map(([n]) => n),
    [
      'to_q.weight',
      'to_q.bias',
      'to_k.weight',
      'to_k.bias',
      'to_v.weight',
      'to_v.bias',
      'to_out.0.weight',
      'to_out.0.bias',
    ],
  );
  const p = attn.initParams(new Philox(5));
  const x = testData([1, C, H, W], 3);
  const y = await run(attn, p, x, (v) => attn.forward(v));
  // reference: tokens t[l][c] = x[0, c, l]
  const lin = (w: NDArray, b: NDArray, v: number[]) =>
    Array.from(
      { length: w.shape[0] },
      (_, o) => b.data[o] + v.reduce((s, vi, i) => s + w.data[o * v.length + i] * vi, 0),
    );
  const tok = Array.from({ length: L }, (_, l) => Array.from({ length: C }, (_, c) => x.data[c * L + l]));
  const q = tok.map((t) => lin(p['to_q.weight'], p['to_q.bias'], t));
  const k = tok.map((t) => lin(p['to_k.weight'], p['to_k.bias'], t));
  const v = tok.map((t) => lin(p['to_v.weight'], p['to_v.bias'], t));
  const want = new Float64Array(C * L);
  const o = tok.map(() => new Array<number>(C).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: L }, (_, j) => {
        let a = 0;
        for (let e = 0; e < d; e++) a += q[i][h * d + e] * k[j][h * d + e];
        return a / Math.sqrt(d);
      });
      const mx = Math.max(...s),
        ex = s.map((z) => Math.exp(z - mx)),
        Z = ex.reduce((a, b) => a + b, 0);
      for (let e = 0; e < d; e++) o[i][h * d + e] = ex.reduce((acc, w, j) => acc + (w / Z) * v[j][h * d + e], 0);
    }
  }
  for (let l = 0; l < L; l++) {
    const out = lin(p['to_out.0.weight'], p['to_out.0.bias'], o[l]);
    for (let c = 0; c < C; c++) want[c * L + l] = (out[c] + x.data[c * L + l]) / 2;
  }
  close(y.data, want, 1e-5, 'attention');
  // token input [n, L, C] gives the same numbers
  const xt = new NDArray([1, L, C], tok.flat());
  const yt = await run(attn, p, xt, (vv) => attn.forward(vv));
  close(
    yt.data,
    Array.from({ length: L * C }, (_, i) => want[(i % C) * L + Math.floor(i / C)]),
    1e-5,
    'attention tokens',
  );
  assert.throws(
    () => trace((vv: Value) => withParams(attn, p, () => attn.forward(vv)), [{ name: 'x', shape: [1, 3, 2, 2] }]),
    /Attention.forward: input has 3 channels, the layer expects 4/,
  );
  assert.throws(() => new Attention(4, { heads: 0 }), /Attention: heads must be a positive integer, got 0/);
});

test('GroupNorm / LayerNorm modules: names, affine init, forward equals the formulas', async () => {
  const gn = new GroupNorm(2, 4, { eps: 1e-5 });
  assert.deepEqual(
    gn.namedParameters().map(([n]) => n),
    ['weight', 'bias'],
  );
  const x = testData([2, 4, 3, 1], 7);
  const gp = { weight: NDArray.from([1, 2, 3, 4]), bias: NDArray.from([0, 1, 0, -1]) };
  const y = await run(gn, gp, x, (v) => gn.forward(v));
  const want = new Float64Array(x.size);
  for (let n = 0; n < 2; n++)
    for (let g = 0; g < 2; g++) {
      const idx = [0, 1, 2, 3, 4, 5].map((i) => n * 12 + g * 6 + i);
      const mu = idx.reduce((s, i) => s + x.data[i], 0) / 6;
      const va = idx.reduce((s, i) => s + (x.data[i] - mu) ** 2, 0) / 6;
      for (const i of idx) {
        const c = Math.floor((i % 12) / 3);
        want[i] = ((x.data[i] - mu) / Math.sqrt(va + 1e-5)) * gp.weight.data[c] + gp.bias.data[c];
      }
    }
  close(y.data, want, 1e-5, 'groupnorm');
  assert.throws(() => new GroupNorm(3, 4), /numChannels 4 is not divisible by numGroups 3/);

  const ln = new LayerNorm(3, { bias: false });
  assert.deepEqual(
    ln.namedParameters().map(([n]) => n),
    ['weight'],
  );
  assert.equal(new LayerNorm([2, 3], { elementwiseAffine: false }).namedParameters().length, 0);
  const z = testData([2, 3], 8);
  const lp = { weight: NDArray.from([1, -1, 2]) };
  const zy = await run(ln, lp, z, (v) => ln.forward(v));
  const zw: number[] = [];
  for (let r = 0; r < 2; r++) {
    const row = [0, 1, 2].map((i) => z.data[r * 3 + i]);
    const mu = row.reduce((a, b) => a + b) / 3,
      va = row.reduce((a, b) => a + (b - mu) ** 2, 0) / 3;
    row.forEach((vv, i) => zw.push(((vv - mu) / Math.sqrt(va + 1e-5)) * lp.weight.data[i]));
  }
  close(zy.data, zw, 1e-5, 'layernorm');
  assert.throws(() => new LayerNorm([]), /normalizedShape must be a positive integer or a non-empty list/);
});

test('Downsample2D / Upsample2D: conv names, stride-2 shapes (padding 1 and 0), avg-pool and nearest paths', async () => {
  const d1 = new Downsample2D(4, { useConv: true });
  assert.deepEqual(
    d1.namedParameters().map(([n]) => n),
    ['conv.weight', 'conv.bias'],
  );
  const x = testData([1, 4, 7, 7], 2);
  const y1 = await run(d1, d1.initParams(new Philox(1)), x, (v) => d1.forward(v));
  assert.deepEqual(y1.shape, [1, 4, 4, 4]); // floor((7 + 2 - 3) / 2) + 1
  const d0 = new Downsample2D(4, { useConv: true, padding: 0 });
  const y0 = await run(d0, d0.initParams(new Philox(1)), x, (v) => d0.forward(v));
  assert.deepEqual(y0.shape, [1, 4, 3, 3]); // pad (0,1,0,1): floor((8 - 3) / 2) + 1
  const pool = new Downsample2D(1);
  const px = testData([1, 1, 2, 4], 4);
  const py = await run(pool, {}, px, (v) => pool.forward(v));
  close(
    py.data,
    [0, 2].map((j) => (px.data[j] + px.data[j + 1] + px.data[4 + j] + px.data[5 + j]) / 4),
    1e-6,
    'avgpool',
  );
  const up = new Upsample2D(1);
  assert.equal(up.namedParameters().length, 0);
  const uy = await run(up, {}, px, (v) => up.forward(v));
  assert.deepEqual(uy.shape, [1, 1, 4, 8]);
  close(
    uy.data,
    Array.from({ length: 32 }, (_, i) => px.data[Math.floor(Math.floor(i / 8) / 2) * 4 + Math.floor((i % 8) / 2)]),
    0,
    'nearest',
  );
  assert.deepEqual(new Upsample2D(4, { useConv: true, outChannels: 8 }).parameterShapes()['conv.weight'], [8, 4, 3, 3]);
  assert.throws(
    () => new Downsample2D(4, { outChannels: 8 }),
    /without a conv the channel count cannot change \(4 -> 8\)/,
  );
});

test('ResnetBlock2D and TimestepEmbedding: diffusers names; scale_shift needs temb; bad options named', () => {
  const r = new ResnetBlock2D({ inChannels: 8, outChannels: 16, tembChannels: 32, groups: 4 });
  assert.deepEqual(
    r.namedParameters().map(([n]) => n),
    [
      'norm1.weight',
      'norm1.bias',
      'conv1.weight',
      'conv1.bias',
      'time_emb_proj.weight',
      'time_emb_proj.bias',
      'norm2.weight',
      'norm2.bias',
      'conv2.weight',
      'conv2.bias',
      'conv_shortcut.weight',
      'conv_shortcut.bias',
    ],
  );
  assert.deepEqual(
    new ResnetBlock2D({
      inChannels: 8,
      tembChannels: 32,
      groups: 4,
      timeEmbeddingNorm: 'scale_shift',
    }).parameterShapes()['time_emb_proj.weight'],
    [16, 32],
  );
  assert.equal(new ResnetBlock2D({ inChannels: 8, tembChannels: null, groups: 4 }).namedParameters().length, 8);
  const ss = new ResnetBlock2D({ inChannels: 4, tembChannels: 8, groups: 2, timeEmbeddingNorm: 'scale_shift' });
  assert.throws(
    () =>
      trace(
        (v: Value) => withParams(ss, ss.initParams(new Philox(0)), () => ss.forward(v, null)),
        [{ name: 'x', shape: [1, 4, 2, 2] }],
      ),
    /temb must be given when timeEmbeddingNorm is "scale_shift"/,
  );
  assert.throws(
    () => new ResnetBlock2D({ inChannels: 8, groups: 4, dropout: 1 }),
    /ResnetBlock2D: dropout probability must be in \[0, 1\), got 1/,
  );
  assert.throws(
    () => new ResnetBlock2D({ inChannels: 8, groups: 4, up: true, down: true }),
    /up and down cannot both be set/,
  );
  assert.throws(
    () => new ResnetBlock2D({ inChannels: 8, groups: 4, timeEmbeddingNorm: 'ada_group' as 'default' }),
    /timeEmbeddingNorm "ada_group" is not supported \(allowed: "default", "scale_shift"\)/,
  );
  assert.deepEqual(
    new TimestepEmbedding(32, 128).namedParameters().map(([n]) => n),
    ['linear_1.weight', 'linear_1.bias', 'linear_2.weight', 'linear_2.bias'],
  );
  assert.deepEqual(
    new Linear(3, 2, { bias: false }).namedParameters().map(([n]) => n),
    ['weight'],
  );
  assert.throws(
    () => getActivation('tanh'),
    /unsupported activation function "tanh" \(allowed: silu, swish, mish, gelu, relu\)/,
  );
});
