/**
 * mlp-2d against its PyTorch twin (tools/fixtures/unet_torch.py case_mlp: torch.nn.Linear layers +
 * diffusers' get_timestep_embedding, torch default init): forward output and the gradients of
 * sum(out * cot) w.r.t. every parameter and the input; config validation and round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MLPModel, validateMLPConfig } from '../../src/models/mlp.ts';
import { assertAllClose, forwardWithGrads, loadModelFixture } from './_fixture.ts';

const fx = loadModelFixture('mlp_2d');

test('parameter names equal the torch twin state-dict names', () => {
  const m = MLPModel.fromConfig(fx.config);
  assert.deepEqual(
    m.namedParameters().map(([n]) => n),
    fx.param_names,
  );
});

test('forward and all gradients match PyTorch', async () => {
  const m = MLPModel.fromConfig(fx.config);
  const params = fx.group('param.');
  const wrt = ['x', ...fx.param_names];
  const { out, grads } = await forwardWithGrads(
    m,
    params,
    { x: fx.get('x'), t: fx.get('t'), labels: fx.get('labels') },
    (v) => m.forward(v.x, v.t, v.labels),
    fx.get('cotangent'),
    wrt,
  );
  assertAllClose(out, fx.get('output'), 'output', 1e-4, 1e-5);
  for (const n of wrt) assertAllClose(grads[n], fx.get(`grad.${n}`), `grad ${n}`, 1e-4, 1e-5);
});

test('config: defaults are the mlp-2d reference, JSON round trip, clear errors', () => {
  const c = validateMLPConfig({});
  assert.deepEqual(
    [c.in_channels, c.out_channels, c.hidden_dims, c.time_embedding_dim, c.act_fn],
    [2, 2, [128, 128, 128], 64, 'silu'],
  );
  const m = MLPModel.fromConfig({ in_channels: 3, num_class_embeds: 11 });
  const again = MLPModel.fromConfig(JSON.parse(JSON.stringify(m.toConfig())));
  assert.deepEqual(again.toConfig(), m.toConfig());
  assert.deepEqual(again.parameterShapes(), m.parameterShapes());
  assert.equal(new MLPModel({}).numParameters(), (2 + 64) * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2);
  assert.throws(
    () => MLPModel.fromConfig({ hidden_dim: 64 }),
    /MLPModel config: unknown key "hidden_dim" \(allowed keys: in_channels/,
  );
  assert.throws(
    () => MLPModel.fromConfig({ act_fn: 'tanh' }),
    /act_fn = "tanh" is invalid: expected one of "silu", "swish", "gelu", "relu"/,
  );
  assert.throws(() => MLPModel.fromConfig({ hidden_dims: [] }), /hidden_dims = \[\] is invalid/);
  assert.throws(() => MLPModel.fromConfig([]), /expected a JSON object, got \[\]/);
  assert.throws(
    () => MLPModel.fromConfig({ _class_name: 'UNet2DModel' }),
    /_class_name = "UNet2DModel" is not "MLPModel"/,
  );
});

test('input embedding: [x, pe(x)] with pe from the sinusoidal formula, then the same MLP', async () => {
  const { Philox, NDArray } = await import('../../src/engine/index.ts');
  const { denoiserFor } = await import('../../src/pipelines/denoiser.ts');
  const D = 4,
    scale = 3,
    half = D / 2;
  const a = MLPModel.fromConfig({
    in_channels: 2,
    hidden_dims: [5],
    time_embedding_dim: 6,
    input_embedding_dim: D,
    input_embedding_scale: scale,
  });
  // the same network fed the features by hand: in_channels 2 + 2 x D, no input embedding
  const b = MLPModel.fromConfig({ in_channels: 2 + 2 * D, out_channels: 2, hidden_dims: [5], time_embedding_dim: 6 });
  assert.deepEqual(a.parameterShapes(), b.parameterShapes());
  const w = a.initParams(new Philox(3));
  const x = new NDArray([3, 2], Float32Array.from([0.5, -1.25, 2, 0.1, -3.5, 4]));
  const t = Float32Array.from([0, 17, 999]);
  // Vaswani et al. sec. 3.5 with diffusers' flip_sin_to_cos and freq_shift 0: [cos(s x f_i), sin(s x f_i)], f_i = 10000^(-i / half)
  const feats = new NDArray([3, 2 + 2 * D]);
  for (let r = 0; r < 3; r++) {
    const row = [x.data[2 * r], x.data[2 * r + 1]];
    for (let c = 0; c < 2; c++) {
      const v = x.data[2 * r + c];
      for (let i = 0; i < half; i++) row.push(Math.cos(scale * v * 10000 ** (-i / half)));
      for (let i = 0; i < half; i++) row.push(Math.sin(scale * v * 10000 ** (-i / half)));
    }
    feats.data.set(row, r * (2 + 2 * D));
  }
  const ya = await denoiserFor(a, w)(x, t);
  const yb = await denoiserFor(b, w)(feats, t);
  for (let i = 0; i < ya.size; i++)
    assert.ok(Math.abs(ya.data[i] - yb.data[i]) < 1e-5, `output ${i}: ${ya.data[i]} vs ${yb.data[i]}`);
  assert.throws(() => MLPModel.fromConfig({ input_embedding_dim: 1 }), /input_embedding_dim = 1 is too small/);
  assert.equal(validateMLPConfig({}).input_embedding_dim, 0);
});
