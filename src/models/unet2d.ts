/**
 * UNet2DModel: the DDPM U-Net (Ho et al. 2020, appendix B; Ronneberger et al. 2015) with diffusers'
 * `UNet2DModel` config keys, block structure and parameter names, so a diffusers `config.json` +
 * weights load unchanged (for the supported options) and our checkpoints load in diffusers.
 *
 *   emb = time_embedding(sinusoid(t)) (+ class_embedding(y))
 *   h = conv_in(x);  down blocks (skips saved)  ->  mid block  ->  up blocks (skips consumed)
 *   out = conv_out(SiLU(conv_norm_out(h)))
 *
 * Supported config values (anything else is an error naming the key): time_embedding_type
 * "positional"; down blocks "DownBlock2D" | "AttnDownBlock2D"; up blocks "UpBlock2D" | "AttnUpBlock2D";
 * mid_block_type "UNetMidBlock2D" | null; downsample_type / upsample_type "conv"; dropout 0;
 * resnet_time_scale_shift "default" | "scale_shift"; class_embed_type null (with optional
 * num_class_embeds); act_fn "silu" | "swish" | "gelu" | "relu". `num_train_timesteps` is accepted and
 * ignored (diffusers only uses it for "learned" time embeddings).
 *
 * @example
 *   const unet = UNet2DModel.fromConfig(modelConfig('unet-s'));
 *   const params = unet.initParams(new Philox(0));
 *   // inside trace(): withParams(unet, p, () => unet.forward(x, t))   x [n, 1, 28, 28], t [n] -> [n, 1, 28, 28]
 */
import { add, mul, sub, type Value } from '../engine/index.ts';
import { Conv2d } from '../nn/conv2d.ts';
import { Embedding } from '../nn/embedding.ts';
import { GroupNorm } from '../nn/group_norm.ts';
import { SILU } from '../nn/activations.ts';
import { Module } from '../nn/module.ts';
import { TimestepEmbedding } from '../nn/timestep_embedding.ts';
import { Timesteps } from '../nn/timesteps.ts';
import { ConfigReader } from './config_utils.ts';
import { AttnDownBlock2D, AttnUpBlock2D, DownBlock2D, UNetMidBlock2D, UpBlock2D, type BlockCommon } from './unet2d_blocks.ts';

export type DownBlockType = 'DownBlock2D' | 'AttnDownBlock2D';
export type UpBlockType = 'UpBlock2D' | 'AttnUpBlock2D';

/** diffusers UNet2DModel config (snake_case, as in its config.json). */
export interface UNet2DConfig {
  _class_name: 'UNet2DModel';
  sample_size: number | [number, number] | null;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  time_embedding_type: 'positional';
  time_embedding_dim: number | null;
  freq_shift: number;
  flip_sin_to_cos: boolean;
  down_block_types: DownBlockType[];
  mid_block_type: 'UNetMidBlock2D' | null;
  up_block_types: UpBlockType[];
  block_out_channels: number[];
  layers_per_block: number;
  mid_block_scale_factor: number;
  downsample_padding: number;
  downsample_type: 'conv';
  upsample_type: 'conv';
  dropout: number;
  act_fn: 'silu' | 'swish' | 'gelu' | 'relu';
  attention_head_dim: number | null;
  norm_num_groups: number;
  attn_norm_num_groups: number | null;
  norm_eps: number;
  resnet_time_scale_shift: 'default' | 'scale_shift';
  add_attention: boolean;
  class_embed_type: null;
  num_class_embeds: number | null;
  num_train_timesteps: number | null;
}

/** Every key of diffusers' UNet2DModel.__init__ (the allowed keys of a config). */
export const UNET2D_KEYS = [
  'sample_size', 'in_channels', 'out_channels', 'center_input_sample', 'time_embedding_type', 'time_embedding_dim',
  'freq_shift', 'flip_sin_to_cos', 'down_block_types', 'mid_block_type', 'up_block_types', 'block_out_channels',
  'layers_per_block', 'mid_block_scale_factor', 'downsample_padding', 'downsample_type', 'upsample_type', 'dropout',
  'act_fn', 'attention_head_dim', 'norm_num_groups', 'attn_norm_num_groups', 'norm_eps', 'resnet_time_scale_shift',
  'add_attention', 'class_embed_type', 'num_class_embeds', 'num_train_timesteps',
] as const;

/**
 * Validate a (partial) UNet2DModel config and fill diffusers' defaults (e.g. block_out_channels
 * (224, 448, 672, 896), norm_num_groups 32, attention_head_dim 8). Errors name the key, the value and
 * what is allowed.
 *
 * @example validateUNet2DConfig({ block_out_channels: [32, 64], down_block_types: [...], up_block_types: [...] })
 */
export function validateUNet2DConfig(json: unknown, where = 'UNet2DModel config'): UNet2DConfig {
  const r = new ConfigReader(json, where, UNET2D_KEYS);
  const cls = r.obj._class_name;
  if (cls !== undefined && cls !== 'UNet2DModel') throw new Error(`${where}: _class_name = ${JSON.stringify(cls)} is not "UNet2DModel"`);
  const fail = (key: string, msg: string): never => { throw new Error(`${where}: ${key} ${msg}`); };

  let sampleSize: UNet2DConfig['sample_size'] = null;
  const ss = r.obj.sample_size;
  if (ss !== undefined && ss !== null) {
    if (typeof ss === 'number' && Number.isInteger(ss) && ss > 0) sampleSize = ss;
    else if (Array.isArray(ss) && ss.length === 2 && ss.every((d) => Number.isInteger(d) && d > 0)) sampleSize = [ss[0], ss[1]];
    else fail('sample_size', `= ${JSON.stringify(ss)} is invalid: expected null, a positive integer or [height, width]`);
  }
  const blockOut = r.intList('block_out_channels', [224, 448, 672, 896], { min: 1 });
  const down = r.stringList<DownBlockType>('down_block_types', ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'], ['DownBlock2D', 'AttnDownBlock2D']);
  const up = r.stringList<UpBlockType>('up_block_types', ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'], ['UpBlock2D', 'AttnUpBlock2D']);
  if (down.length !== up.length) fail('up_block_types', `has ${up.length} entries but down_block_types has ${down.length}: they must have the same length`);
  if (blockOut.length !== down.length) fail('block_out_channels', `has ${blockOut.length} entries but down_block_types has ${down.length}: they must have the same length`);
  const cfg: UNet2DConfig = {
    _class_name: 'UNet2DModel',
    sample_size: sampleSize,
    in_channels: r.int('in_channels', 3, { min: 1 }),
    out_channels: r.int('out_channels', 3, { min: 1 }),
    center_input_sample: r.bool('center_input_sample', false),
    time_embedding_type: r.choice('time_embedding_type', 'positional', ['positional'] as const),
    time_embedding_dim: r.intOrNull('time_embedding_dim', null, { min: 1 }),
    freq_shift: r.num('freq_shift', 0),
    flip_sin_to_cos: r.bool('flip_sin_to_cos', true),
    down_block_types: down,
    mid_block_type: r.choice('mid_block_type', 'UNetMidBlock2D', ['UNetMidBlock2D', null] as const),
    up_block_types: up,
    block_out_channels: blockOut,
    layers_per_block: r.int('layers_per_block', 2, { min: 1 }),
    mid_block_scale_factor: r.num('mid_block_scale_factor', 1, { positive: true }),
    downsample_padding: r.int('downsample_padding', 1, { min: 0 }),
    downsample_type: r.choice('downsample_type', 'conv', ['conv'] as const),
    upsample_type: r.choice('upsample_type', 'conv', ['conv'] as const),
    dropout: r.num('dropout', 0),
    act_fn: r.choice('act_fn', 'silu', ['silu', 'swish', 'gelu', 'relu'] as const),
    attention_head_dim: r.intOrNull('attention_head_dim', 8, { min: 1 }),
    norm_num_groups: r.int('norm_num_groups', 32, { min: 1 }),
    attn_norm_num_groups: r.intOrNull('attn_norm_num_groups', null, { min: 1 }),
    norm_eps: r.num('norm_eps', 1e-5, { positive: true }),
    resnet_time_scale_shift: r.choice('resnet_time_scale_shift', 'default', ['default', 'scale_shift'] as const),
    add_attention: r.bool('add_attention', true),
    class_embed_type: r.choice('class_embed_type', null, [null] as const),
    num_class_embeds: r.intOrNull('num_class_embeds', null, { min: 1 }),
    num_train_timesteps: r.intOrNull('num_train_timesteps', null, { min: 1 }),
  };
  if (cfg.dropout !== 0) fail('dropout', `= ${cfg.dropout} is not supported (only 0: dropout needs a random generator inside the traced graph)`);
  const g = cfg.norm_num_groups;
  blockOut.forEach((c, i) => { if (c % g !== 0) fail('norm_num_groups', `= ${g} does not divide block_out_channels[${i}] = ${c} (GroupNorm needs channels divisible by groups)`); });
  if (cfg.attn_norm_num_groups !== null && blockOut[blockOut.length - 1] % cfg.attn_norm_num_groups !== 0) {
    fail('attn_norm_num_groups', `= ${cfg.attn_norm_num_groups} does not divide the mid-block channels ${blockOut[blockOut.length - 1]}`);
  }
  if (Math.floor(blockOut[0] / 2) - cfg.freq_shift === 0) fail('freq_shift', `= ${cfg.freq_shift} makes the timestep frequency spacing divide by zero for block_out_channels[0] = ${blockOut[0]}`);
  return cfg;
}

/** The U-Net; see the file comment. Build with `UNet2DModel.fromConfig(json)`. */
export class UNet2DModel extends Module {
  readonly config: UNet2DConfig;
  readonly timeEmbedDim: number;
  readonly convIn: Conv2d;
  readonly timeProj: Timesteps;
  readonly timeEmbedding: TimestepEmbedding;
  readonly classEmbedding: Embedding | null;
  readonly downBlocks: (DownBlock2D | AttnDownBlock2D)[];
  readonly upBlocks: (UpBlock2D | AttnUpBlock2D)[];
  readonly midBlock: UNetMidBlock2D | null;
  readonly convNormOut: GroupNorm;
  readonly convOut: Conv2d;

  constructor(config: Partial<UNet2DConfig> | Record<string, unknown>) {
    super();
    const c = validateUNet2DConfig(config);
    this.config = c;
    const boc = c.block_out_channels;
    const n = boc.length;
    this.timeEmbedDim = c.time_embedding_dim ?? boc[0] * 4;
    const common: BlockCommon = {
      tembChannels: this.timeEmbedDim, eps: c.norm_eps, actFn: c.act_fn, groups: c.norm_num_groups,
      timeEmbeddingNorm: c.resnet_time_scale_shift, attentionHeadDim: c.attention_head_dim,
    };

    this.convIn = this.child('conv_in', new Conv2d(c.in_channels, boc[0], 3, { padding: 1 }));
    this.timeProj = new Timesteps(boc[0], { flipSinToCos: c.flip_sin_to_cos, downscaleFreqShift: c.freq_shift });
    this.timeEmbedding = this.child('time_embedding', new TimestepEmbedding(boc[0], this.timeEmbedDim));
    this.classEmbedding = c.num_class_embeds === null ? null : this.child('class_embedding', new Embedding(c.num_class_embeds, this.timeEmbedDim));

    const down: (DownBlock2D | AttnDownBlock2D)[] = [];
    let outCh = boc[0];
    c.down_block_types.forEach((type, i) => {
      const inCh = outCh;
      outCh = boc[i];
      const o = { inChannels: inCh, outChannels: outCh, numLayers: c.layers_per_block, addDownsample: i !== n - 1, downsamplePadding: c.downsample_padding };
      down.push(type === 'DownBlock2D' ? new DownBlock2D(o, common) : new AttnDownBlock2D(o, common));
    });
    this.downBlocks = this.children('down_blocks', down);

    const mid = c.mid_block_type === null ? null : new UNetMidBlock2D({
      channels: boc[n - 1], outputScaleFactor: c.mid_block_scale_factor, addAttention: c.add_attention, attnGroups: c.attn_norm_num_groups,
    }, common);

    const rev = [...boc].reverse();
    const up: (UpBlock2D | AttnUpBlock2D)[] = [];
    outCh = rev[0];
    c.up_block_types.forEach((type, i) => {
      const prev = outCh;
      outCh = rev[i];
      const o = { inChannels: rev[Math.min(i + 1, n - 1)], prevOutputChannel: prev, outChannels: outCh, numLayers: c.layers_per_block + 1, addUpsample: i !== n - 1 };
      up.push(type === 'UpBlock2D' ? new UpBlock2D(o, common) : new AttnUpBlock2D(o, common));
    });
    // diffusers registers up_blocks before mid_block (state-dict order)
    this.upBlocks = this.children('up_blocks', up);
    this.midBlock = mid === null ? null : this.child('mid_block', mid);
    this.convNormOut = this.child('conv_norm_out', new GroupNorm(c.norm_num_groups, boc[0], { eps: c.norm_eps }));
    this.convOut = this.child('conv_out', new Conv2d(boc[0], c.out_channels, 3, { padding: 1 }));
  }

  /** Build from a diffusers-style config object (unknown keys and unsupported values are errors). */
  static fromConfig(json: unknown): UNet2DModel {
    return new UNet2DModel(validateUNet2DConfig(json));
  }

  /** The full config with defaults filled (`UNet2DModel.fromConfig(m.toConfig())` rebuilds the same model). */
  toConfig(): UNet2DConfig {
    return JSON.parse(JSON.stringify(this.config)) as UNet2DConfig;
  }

  /** Spatial size the model was configured for, as [height, width] (null when sample_size is null). */
  get sampleSize(): [number, number] | null {
    const s = this.config.sample_size;
    return s === null ? null : typeof s === 'number' ? [s, s] : [s[0], s[1]];
  }

  /**
   * sample [n, in_channels, H, W], timestep [n] (float32, one per sample), classLabels [n] (int64 or
   * float class ids; required iff num_class_embeds is set) -> [n, out_channels, H, W].
   * H and W must be divisible by 2^(levels - 1).
   */
  forward(sample: Value, timestep: Value, classLabels?: Value | null): Value {
    const c = this.config;
    const levels = c.block_out_channels.length;
    if (sample.rank !== 4 || sample.shape[1] !== c.in_channels) {
      throw new Error(`UNet2DModel.forward: sample must be [batch, ${c.in_channels}, height, width], got [${sample.shape.join(', ')}]`);
    }
    const [, , H, W] = sample.shape;
    const f = 2 ** (levels - 1);
    if (typeof H !== 'number' || typeof W !== 'number' || H % f !== 0 || W % f !== 0) {
      throw new Error(`UNet2DModel.forward: height and width must be static and divisible by 2^(levels - 1) = ${f}, got ${String(H)} x ${String(W)}`);
    }
    if (timestep.rank !== 1 || timestep.shape[0] !== sample.shape[0]) {
      throw new Error(`UNet2DModel.forward: timestep must be [${String(sample.shape[0])}] (one per sample), got [${timestep.shape.join(', ')}]`);
    }
    // 0. center input (2 x - 1)
    let x = c.center_input_sample ? sub(mul(sample, 2), 1) : sample;
    // 1. time (+ class) embedding
    let emb = this.timeEmbedding.forward(this.timeProj.forward(timestep));
    if (this.classEmbedding) {
      if (!classLabels) throw new Error('UNet2DModel.forward: class labels are required (num_class_embeds is set); pass classLabels [batch]');
      if (classLabels.rank !== 1 || classLabels.shape[0] !== sample.shape[0]) {
        throw new Error(`UNet2DModel.forward: classLabels must be [${String(sample.shape[0])}], got [${classLabels.shape.join(', ')}]`);
      }
      emb = add(emb, this.classEmbedding.forward(classLabels));
    } else if (classLabels) {
      throw new Error('UNet2DModel.forward: class labels were given but the model has no class embedding (set num_class_embeds in the config)');
    }
    // 2. pre-process, 3. down
    x = this.convIn.forward(x);
    const skips: Value[] = [x];
    for (const block of this.downBlocks) {
      const { hidden, skips: s } = block.forward(x, emb);
      x = hidden;
      skips.push(...s);
    }
    // 4. mid
    if (this.midBlock) x = this.midBlock.forward(x, emb);
    // 5. up (each block pops one skip per resnet)
    for (const block of this.upBlocks) x = block.forward(x, skips, emb);
    // 6. post-process
    return this.convOut.forward(this.convNormOut.forward(x, SILU));
  }
}
