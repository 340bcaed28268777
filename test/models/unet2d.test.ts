/**
 * UNet2DModel against diffusers' own UNet2DModel run as an oracle (tools/fixtures/unet_torch.py,
 * run_unet): parameter names (equal sets and order to the diffusers state dict), forward output and
 * gradients of sum(out * cot) w.r.t. the sample and several parameters, for two tiny configs that
 * cover the supported options and for the unet-s reference config (formula weights).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/index.ts';
import { UNet2DModel, validateUNet2DConfig } from '../../src/models/unet2d.ts';
import { assertAllClose, forwardWithGrads, loadModelFixture, type ModelFixture } from './_fixture.ts';

async function checkAgainstOracle(fx: ModelFixture, params: Record<string, NDArray>): Promise<void> {
  const m = UNet2DModel.fromConfig(fx.config);
  const inputs: Record<string, NDArray> = { sample: fx.get('sample'), timesteps: fx.get('timesteps') };
  if (fx.tensors.labels) inputs.labels = fx.get('labels');
  const wrt = ['sample', ...fx.grad_params!];
  const { out, grads } = await forwardWithGrads(
    m,
    params,
    inputs,
    (v) => m.forward(v.sample, v.timesteps, v.labels),
    fx.get('cotangent'),
    wrt,
  );
  assertAllClose(out, fx.get('output'), 'output', 1e-4, 2e-5);
  for (const n of wrt) assertAllClose(grads[n], fx.get(`grad.${n}`), `grad ${n}`, 1e-4, 5e-5);
}

function checkNames(fx: ModelFixture): UNet2DModel {
  const m = UNet2DModel.fromConfig(fx.config);
  const ours = m.namedParameters().map(([n]) => n);
  assert.deepEqual(new Set(ours), new Set(fx.param_names), 'same parameter names as the diffusers state dict');
  assert.deepEqual(ours, fx.param_names, 'same order as the diffusers state dict');
  assert.deepEqual(m.parameterShapes(), fx.param_shapes);
  assert.equal(m.numParameters(), fx.num_parameters);
  return m;
}

test('tiny UNet (Down/AttnDown, 4 heads, class embedding): names, output and gradients equal diffusers', async () => {
  const fx = loadModelFixture('unet_tiny');
  checkNames(fx);
  await checkAgainstOracle(fx, fx.group('param.'));
});

test('tiny UNet b (scale_shift, center_input, padding 0, mid scale 1.5, 3 levels, attention with downsampler)', async () => {
  const fx = loadModelFixture('unet_tiny_b');
  checkNames(fx);
  await checkAgainstOracle(fx, fx.group('param.'));
});

test('unet-s reference config with 10 classes (formula weights): output and gradients equal diffusers', async () => {
  const fx = loadModelFixture('unet_s');
  const m = checkNames(fx);
  // value[i] = offset + scale sin(0.7 i + 1.3 index + 0.1), float64 -> float32 (rule in the fixture)
  const params: Record<string, NDArray> = {};
  for (const [name, p] of m.namedParameters()) {
    const f = fx.formula_weights!.params[name];
    const a = new NDArray(p.shape);
    for (let i = 0; i < a.size; i++) a.data[i] = f.offset + f.scale * Math.sin(0.7 * i + 1.3 * f.index + 0.1);
    params[name] = a;
  }
  await checkAgainstOracle(fx, params);
});

test('config: diffusers defaults, JSON round trip, unknown keys and unsupported values are named', () => {
  const d = validateUNet2DConfig({});
  assert.deepEqual(
    [d.block_out_channels, d.layers_per_block, d.norm_num_groups, d.attention_head_dim, d.act_fn],
    [[224, 448, 672, 896], 2, 32, 8, 'silu'],
  );
  const fx = loadModelFixture('unet_tiny_b');
  const m = UNet2DModel.fromConfig(fx.config);
  const again = UNet2DModel.fromConfig(JSON.parse(JSON.stringify(m.toConfig())));
  assert.deepEqual(again.toConfig(), m.toConfig());
  assert.deepEqual(again.parameterShapes(), m.parameterShapes());
  const base = {
    block_out_channels: [8, 16],
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
    norm_num_groups: 4,
  };
  assert.throws(
    () => validateUNet2DConfig({ ...base, block_out_channel: [8] }),
    /unknown key "block_out_channel" \(allowed keys: sample_size, in_channels/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'] }),
    /down_block_types\[1\] = "CrossAttnDownBlock2D" is invalid: expected one of "DownBlock2D", "ResnetDownsampleBlock2D", "AttnDownBlock2D", "SkipDownBlock2D", "AttnSkipDownBlock2D"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, time_embedding_type: 'sinusoidal' }),
    /time_embedding_type = "sinusoidal" is invalid: expected one of "positional", "fourier", "learned"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, dropout: 1 }),
    /dropout = 1 is invalid: expected a probability in \[0, 1\)/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, class_embed_type: 'projection' }),
    /class_embed_type = "projection" is invalid: expected one of null, "timestep", "identity"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, norm_num_groups: 3 }),
    /norm_num_groups = 3 does not divide block_out_channels\[0\] = 8/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, up_block_types: ['UpBlock2D'] }),
    /up_block_types has 1 entries but down_block_types has 2/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, block_out_channels: [8, 16, 32] }),
    /block_out_channels has 3 entries but down_block_types has 2/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, sample_size: '28' }),
    /sample_size = "28" is invalid: expected null, a positive integer or \[height, width\]/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, _class_name: 'UNet2DConditionModel' }),
    /_class_name = "UNet2DConditionModel" is not "UNet2DModel"/,
  );
  // diffusers metadata keys are accepted
  assert.equal(
    validateUNet2DConfig({ ...base, _diffusers_version: '0.30.0', num_train_timesteps: 1000 }).num_train_timesteps,
    1000,
  );
});

test('config: the options added for diffusers parity are checked with the key named', () => {
  const skip = {
    block_out_channels: [32, 32, 16, 16],
    in_channels: 3,
    out_channels: 3,
    time_embedding_type: 'fourier',
    norm_num_groups: null,
    layers_per_block: 1,
    down_block_types: ['SkipDownBlock2D', 'AttnSkipDownBlock2D', 'SkipDownBlock2D', 'SkipDownBlock2D'],
    up_block_types: ['SkipUpBlock2D', 'SkipUpBlock2D', 'AttnSkipUpBlock2D', 'SkipUpBlock2D'],
  };
  assert.equal(validateUNet2DConfig(skip).norm_num_groups, null, 'null keeps its diffusers meaning (min(C / 4, 32))');
  const legacy = validateUNet2DConfig({
    block_out_channels: [8, 16],
    norm_num_groups: 4,
    down_block_types: ['UNetResDownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UNetResUpBlock2D'],
  });
  assert.deepEqual(
    [legacy.down_block_types[0], legacy.up_block_types[1]],
    ['DownBlock2D', 'UpBlock2D'],
    'the legacy "UNetRes" prefix is shortened as diffusers does',
  );
  assert.equal(validateUNet2DConfig({ ...skip, attention_head_dim: null }).attention_head_dim, null);
  assert.throws(
    () => validateUNet2DConfig({ ...skip, in_channels: 1 }),
    /in_channels = 1 is invalid with SkipDownBlock2D: the skip blocks' skip_conv is built for 3 input channels/,
  );
  assert.throws(
    () =>
      validateUNet2DConfig({
        ...skip,
        block_out_channels: [16, 32, 32],
        down_block_types: skip.down_block_types.slice(0, 3),
        up_block_types: ['SkipUpBlock2D', 'AttnSkipUpBlock2D', 'SkipUpBlock2D'],
      }),
    /up_block_types\[1\] gives AttnSkipUpBlock2D's resnet 1 a GroupNorm over 48 channels with 32 groups/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...skip, block_out_channels: [16, 16, 16, 16] }),
    /has 16 channels at a AttnSkipDownBlock2D, whose attention GroupNorm has 32 groups/,
  );
  const base = {
    block_out_channels: [8, 16],
    norm_num_groups: 4,
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
  };
  assert.throws(
    () => validateUNet2DConfig({ ...base, norm_num_groups: null }),
    /norm_num_groups = null is invalid with DownBlock2D: only the skip blocks/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, time_embedding_type: 'learned' }),
    /num_train_timesteps = null is invalid with time_embedding_type "learned"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, attention_head_dim: 32 }),
    /attention_head_dim = 32 is larger than an attention block's 16 channels/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, downsample_type: 'fir' }),
    /downsample_type = "fir" is invalid: expected one of "conv", "resnet"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, act_fn: 'tanh' }),
    /act_fn = "tanh" is invalid: expected one of "silu", "swish", "mish", "gelu", "relu"/,
  );
  assert.throws(
    () => validateUNet2DConfig({ ...base, mid_block_type: 'UNetMidBlock2DCrossAttn' }),
    /mid_block_type = "UNetMidBlock2DCrossAttn" is invalid: expected one of "UNetMidBlock2D", null/,
  );
  // the parameter names diffusers gives the new pieces
  const m = new UNet2DModel({
    ...base,
    time_embedding_type: 'learned',
    num_train_timesteps: 50,
    class_embed_type: 'timestep',
    downsample_type: 'resnet',
    upsample_type: 'resnet',
  });
  const names = m.namedParameters().map(([k]) => k);
  for (const k of [
    'time_proj.weight',
    'class_embedding.linear_1.weight',
    'down_blocks.1.attentions.0.to_q.weight',
    'up_blocks.0.upsamplers.0.conv1.weight',
  ])
    assert.ok(names.includes(k), k);
  assert.ok(
    !names.some((k) => k.startsWith('down_blocks.0.downsamplers.0.conv1')),
    'DownBlock2D keeps its conv downsampler (downsample_type applies to AttnDownBlock2D only, as in diffusers)',
  );
});

test('legacy attention names (query/key/value/proj_attn, as diffusers renames them on load) are upgraded', async () => {
  const { upgradeLegacyAttentionNames } = await import('../../src/models/unet2d_legacy.ts');
  const m = new UNet2DModel({
    block_out_channels: [8, 16],
    norm_num_groups: 4,
    layers_per_block: 1,
    down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
  });
  const names = m.namedParameters().map(([n]) => n);
  const legacy: Record<string, string> = {};
  for (const n of names) {
    legacy[
      n
        .replace('.to_q.', '.query.')
        .replace('.to_k.', '.key.')
        .replace('.to_v.', '.value.')
        .replace('.to_out.0.', '.proj_attn.')
    ] = n;
  }
  assert.ok('mid_block.attentions.0.proj_attn.weight' in legacy && 'down_blocks.1.attentions.0.query.bias' in legacy);
  const { weights, renamed } = upgradeLegacyAttentionNames(m, legacy);
  // attentions: 1 (down) + 2 (up, layers_per_block + 1) + 1 (mid) = 4 blocks x 4 linears x (weight, bias)
  assert.equal(renamed, 32);
  assert.deepEqual(Object.keys(weights).sort(), [...names].sort());
  for (const [k, v] of Object.entries(weights)) assert.equal(v, k, 'each tensor lands under its new name');
  assert.equal(upgradeLegacyAttentionNames(m, weights).renamed, 0, 'current names are left as they are');
});
