/**
 * Registry: the reference configs of ARCHITECTURE.md section 4 (parameter counts: mlp-2d in closed
 * form from the layer shapes; unet-s with 10 classes = the diffusers oracle's count stored in
 * test/fixtures/models/unet_s.json (1,114,081), without classes 1,280 fewer), dispatch on
 * _class_name, forward errors, and a symbolic batch dimension.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox, compile, trace, type Value } from '../../src/engine/index.ts';
import { withParams } from '../../src/nn/module.ts';
import { MLPModel } from '../../src/models/mlp.ts';
import { UNet2DModel } from '../../src/models/unet2d.ts';
import { MODEL_NAMES, createModel, modelConfig, modelFromConfig } from '../../src/models/registry.ts';
import { loadModelFixture } from './_fixture.ts';

test('named configs: mlp-2d and unet-s with their parameter counts', () => {
  assert.deepEqual(MODEL_NAMES, ['mlp-2d', 'unet-s']);
  const mlp = createModel('mlp-2d');
  assert.ok(mlp instanceof MLPModel);
  assert.equal(mlp.numParameters(), (2 + 64) * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2);
  const unet = createModel('unet-s');
  assert.ok(unet instanceof UNet2DModel);
  assert.equal(unet.numParameters(), 1112801);
  const withClasses = createModel({ ...modelConfig('unet-s', { num_class_embeds: 10 }) });
  assert.equal(withClasses.numParameters(), 1112801 + 10 * 128);
  // same architecture as the oracle's unet-s (fixture config) -> same names and shapes
  const fx = loadModelFixture('unet_s');
  assert.deepEqual(withClasses.parameterShapes(), fx.param_shapes);
  assert.equal(withClasses.numParameters(), fx.num_parameters);
  assert.equal((unet as UNet2DModel).timeEmbedDim, 128);
});

test('modelFromConfig dispatches on _class_name; errors name the model/key', () => {
  assert.ok(modelFromConfig(modelConfig('mlp-2d')) instanceof MLPModel);
  assert.ok(
    modelFromConfig(JSON.parse(JSON.stringify((createModel('unet-s') as UNet2DModel).toConfig()))) instanceof
      UNet2DModel,
  );
  assert.throws(() => modelConfig('unet-xl'), /model "unet-xl" is unknown \(known models: mlp-2d, unet-s/);
  assert.throws(
    () => modelConfig('unet-s', { norm_num_groups: 7 }),
    /model 'unet-s': norm_num_groups = 7 does not divide block_out_channels\[0\] = 32/,
  );
  assert.throws(
    () => modelFromConfig({ in_channels: 2 }, 'ckpt/config.json'),
    /ckpt\/config.json: _class_name = undefined is not supported \(allowed: "UNet2DModel", "MLPModel"\)/,
  );
  assert.throws(
    () => modelFromConfig({ _class_name: 'UNet2DModel', layers_per_blok: 1 }, 'ckpt/config.json'),
    /ckpt\/config.json: unknown key "layers_per_blok"/,
  );
  assert.throws(() => modelFromConfig('x'), /expected a JSON object, got "x"/);
});

test('forward errors: class labels required / unexpected, sizes not divisible, wrong channels', () => {
  const fx = loadModelFixture('unet_tiny');
  const m = UNet2DModel.fromConfig(fx.config);
  const p = fx.group('param.');
  const tr = (shape: number[], labels: boolean) =>
    trace(
      (x: Value, t: Value, y: Value) => withParams(m, p, () => m.forward(x, t, labels ? y : undefined)),
      [
        { name: 'x', shape },
        { name: 't', shape: [shape[0]] },
        { name: 'y', shape: [shape[0]] },
      ],
    );
  assert.throws(() => tr([2, 2, 8, 8], false), /class labels are required \(num_class_embeds is set\)/);
  assert.throws(
    () => tr([2, 2, 7, 7], true),
    /height and width must be static and divisible by 2\^\(levels - 1\) = 2, got 7 x 7/,
  );
  assert.throws(() => tr([2, 3, 8, 8], true), /sample must be \[batch, 2, height, width\], got \[2, 3, 8, 8\]/);
  const mlp = MLPModel.fromConfig({ in_channels: 2 });
  const mp = mlp.initParams(new Philox(0));
  assert.throws(
    () =>
      trace(
        (x: Value, t: Value) => withParams(mlp, mp, () => mlp.forward(x, t, t)),
        [
          { name: 'x', shape: [4, 2] },
          { name: 't', shape: [4] },
        ],
      ),
    /class labels were given but the model has no class embedding/,
  );
  assert.throws(
    () =>
      trace(
        (x: Value, t: Value) => withParams(mlp, mp, () => mlp.forward(x, t)),
        [
          { name: 'x', shape: [4, 3] },
          { name: 't', shape: [4] },
        ],
      ),
    /x must be \[batch, 2\], got \[4, 3\]/,
  );
});

test('unet-s traces once with a symbolic batch and runs at two batch sizes', async () => {
  const m = createModel('unet-s') as UNet2DModel;
  const p = m.initParams(new Philox(0));
  const g = trace(
    (x: Value, t: Value) => withParams(m, p, () => m.forward(x, t)),
    [
      { name: 'x', shape: ['batch', 1, 28, 28] },
      { name: 't', shape: ['batch'] },
    ],
  );
  assert.deepEqual(g.outputs[0].shape, ['batch', 1, 28, 28]);
  const f = await compile(g);
  for (const n of [1, 3]) {
    const [y] = await f.run({ x: new Philox(n).normal([n, 1, 28, 28]), t: NDArray.full([n], 500) });
    assert.deepEqual(y.shape, [n, 1, 28, 28]);
    assert.ok(y.data.every(Number.isFinite));
  }
});
