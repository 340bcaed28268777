/**
 * UNet2DModel: the DDPM U-Net (Ho et al. 2020, appendix B; Ronneberger et al. 2015) and its NCSN++
 * variant (Song et al. 2021, appendix H) with diffusers' `UNet2DModel` config keys, block structure and
 * parameter names, so a diffusers `config.json` + weights load unchanged and our checkpoints load in diffusers.
 *
 *   emb = time_embedding(time_proj(t)) (+ class_embedding(y))
 *   h = conv_in(x);  down blocks (skips saved)  ->  mid block  ->  up blocks (skips consumed)
 *   out = conv_out(SiLU(conv_norm_out(h))) (+ the skip blocks' output image pyramid)  (/ sigma for "fourier")
 *
 * Every option of diffusers' UNet2DModel is supported (the config and its defaults: unet2d_config.ts):
 * - time_embedding_type "positional" (sinusoid of t: flip_sin_to_cos, freq_shift), "fourier" (Gaussian
 *   Fourier features of log sigma, scale 16; the output is divided by sigma: the NCSN++ score model),
 *   "learned" (a table of num_train_timesteps rows, `time_proj.weight`);
 * - blocks DownBlock2D, ResnetDownsampleBlock2D, AttnDownBlock2D, SkipDownBlock2D, AttnSkipDownBlock2D and
 *   the Up counterparts; mid_block_type "UNetMidBlock2D" or null; add_attention; downsample_type /
 *   upsample_type "conv" | "resnet" (AttnDown/AttnUp blocks only, as in diffusers); downsample_padding;
 * - class_embed_type null (with num_class_embeds: a table), "timestep" (labels through time_proj and their own
 *   TimestepEmbedding), "identity" (labels are [n, time_embed_dim] vectors added as they are);
 * - dropout (active only in training: see nn/dropout.ts withDropoutNoise; inference graphs have none),
 *   resnet_time_scale_shift, norm_eps, act_fn, norm_num_groups (null: min(C / 4, 32) where diffusers allows),
 *   attn_norm_num_groups, center_input_sample, time_embedding_dim, attention_head_dim (null: one head).
 *
 * @example
 *   const unet = UNet2DModel.fromConfig(modelConfig('unet-s'));
 *   const params = unet.initParams(new Philox(0));
 *   // inside trace(): withParams(unet, p, () => unet.forward(x, t))   x [n, 1, 28, 28], t [n] -> [n, 1, 28, 28]
 */
import { add, div, mul, reshape, sub, type Value } from '../engine/index.ts';
import { Conv2d } from '../nn/conv2d.ts';
import { Embedding } from '../nn/embedding.ts';
import { GaussianFourierProjection } from '../nn/fourier.ts';
import { GroupNorm } from '../nn/group_norm.ts';
import { SILU } from '../nn/activations.ts';
import { Module } from '../nn/module.ts';
import { TimestepEmbedding } from '../nn/timestep_embedding.ts';
import { Timesteps } from '../nn/timesteps.ts';
import {
  AttnDownBlock2D,
  AttnSkipDownBlock2D,
  AttnSkipUpBlock2D,
  AttnUpBlock2D,
  DownBlock2D,
  ResnetDownsampleBlock2D,
  ResnetUpsampleBlock2D,
  SkipDownBlock2D,
  SkipUpBlock2D,
  UNetMidBlock2D,
  UpBlock2D,
  type AnyDownBlock,
  type AnyUpBlock,
  type BlockCommon,
  type DownBlockOptions,
  type UpBlockOptions,
} from './unet2d_blocks.ts';
import { validateUNet2DConfig, type DownBlockType, type UNet2DConfig, type UpBlockType } from './unet2d_config.ts';

export {
  UNET2D_KEYS,
  UNET2D_CONFIG_SCHEMA,
  UNET2D_CONFIG_SHAPE,
  validateUNet2DConfig,
  isSkipBlock,
  DOWN_BLOCK_TYPES,
  UP_BLOCK_TYPES,
  ACT_FNS,
  type DownBlockType,
  type UpBlockType,
  type UNet2DConfig,
} from './unet2d_config.ts';

const DOWN: Record<DownBlockType, new (o: DownBlockOptions, c: BlockCommon) => AnyDownBlock> = {
  DownBlock2D,
  ResnetDownsampleBlock2D,
  AttnDownBlock2D,
  SkipDownBlock2D,
  AttnSkipDownBlock2D,
};
const UP: Record<UpBlockType, new (o: UpBlockOptions, c: BlockCommon) => AnyUpBlock> = {
  UpBlock2D,
  ResnetUpsampleBlock2D,
  AttnUpBlock2D,
  SkipUpBlock2D,
  AttnSkipUpBlock2D,
};

/** The U-Net; see the file comment. Build with `UNet2DModel.fromConfig(json)`. */
export class UNet2DModel extends Module {
  readonly config: UNet2DConfig;
  readonly timeEmbedDim: number;
  readonly convIn: Conv2d;
  readonly timeProj: Timesteps | GaussianFourierProjection | Embedding;
  readonly timeEmbedding: TimestepEmbedding;
  readonly classEmbedding: Embedding | TimestepEmbedding | 'identity' | null;
  readonly downBlocks: AnyDownBlock[];
  readonly upBlocks: AnyUpBlock[];
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
      tembChannels: this.timeEmbedDim,
      eps: c.norm_eps,
      actFn: c.act_fn,
      groups: c.norm_num_groups,
      timeEmbeddingNorm: c.resnet_time_scale_shift,
      attentionHeadDim: c.attention_head_dim,
      dropout: c.dropout,
    };

    this.convIn = this.child('conv_in', new Conv2d(c.in_channels, boc[0], 3, { padding: 1 }));
    let timeInputDim = boc[0];
    if (c.time_embedding_type === 'fourier') {
      this.timeProj = this.child('time_proj', new GaussianFourierProjection(boc[0], { scale: 16 }));
      timeInputDim = 2 * boc[0];
    } else if (c.time_embedding_type === 'learned') {
      this.timeProj = this.child('time_proj', new Embedding(c.num_train_timesteps!, boc[0]));
    } else {
      this.timeProj = new Timesteps(boc[0], { flipSinToCos: c.flip_sin_to_cos, downscaleFreqShift: c.freq_shift });
    }
    this.timeEmbedding = this.child('time_embedding', new TimestepEmbedding(timeInputDim, this.timeEmbedDim));
    this.classEmbedding =
      c.class_embed_type === 'timestep'
        ? this.child('class_embedding', new TimestepEmbedding(timeInputDim, this.timeEmbedDim))
        : c.class_embed_type === 'identity'
          ? 'identity'
          : c.num_class_embeds !== null
            ? this.child('class_embedding', new Embedding(c.num_class_embeds, this.timeEmbedDim))
            : null;

    const down: AnyDownBlock[] = [];
    let outCh = boc[0];
    c.down_block_types.forEach((type, i) => {
      const inCh = outCh;
      outCh = boc[i];
      const last = i === n - 1;
      down.push(
        new DOWN[type](
          {
            inChannels: inCh,
            outChannels: outCh,
            numLayers: c.layers_per_block,
            addDownsample: !last,
            downsamplePadding: c.downsample_padding,
            downsampleType: c.downsample_type,
          },
          common,
        ),
      );
    });
    this.downBlocks = this.children('down_blocks', down);

    const mid =
      c.mid_block_type === null
        ? null
        : new UNetMidBlock2D(
            {
              channels: boc[n - 1],
              outputScaleFactor: c.mid_block_scale_factor,
              addAttention: c.add_attention,
              attnGroups: c.attn_norm_num_groups,
            },
            common,
          );

    const rev = [...boc].reverse();
    const up: AnyUpBlock[] = [];
    outCh = rev[0];
    c.up_block_types.forEach((type, i) => {
      const prev = outCh;
      outCh = rev[i];
      up.push(
        new UP[type](
          {
            inChannels: rev[Math.min(i + 1, n - 1)],
            prevOutputChannel: prev,
            outChannels: outCh,
            numLayers: c.layers_per_block + 1,
            addUpsample: i !== n - 1,
            upsampleType: c.upsample_type,
          },
          common,
        ),
      );
    });
    // diffusers registers up_blocks before mid_block (state-dict order)
    this.upBlocks = this.children('up_blocks', up);
    this.midBlock = mid === null ? null : this.child('mid_block', mid);
    const groupsOut = c.norm_num_groups ?? Math.min(Math.floor(boc[0] / 4), 32);
    this.convNormOut = this.child('conv_norm_out', new GroupNorm(groupsOut, boc[0], { eps: c.norm_eps }));
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
   * sample [n, in_channels, H, W], timestep [n] (float32, one per sample: t, or sigma for "fourier"),
   * classLabels [n] (int64 or float class ids; [n, time_embed_dim] for class_embed_type "identity"; required
   * iff the model has a class embedding) -> [n, out_channels, H, W]. H and W must be divisible by 2^(levels - 1).
   */
  forward(sample: Value, timestep: Value, classLabels?: Value | null): Value {
    const c = this.config;
    const levels = c.block_out_channels.length;
    if (sample.rank !== 4 || sample.shape[1] !== c.in_channels) {
      throw new Error(
        `UNet2DModel.forward: sample must be [batch, ${c.in_channels}, height, width], got [${sample.shape.join(', ')}]`,
      );
    }
    const [, , H, W] = sample.shape;
    const f = 2 ** (levels - 1);
    if (typeof H !== 'number' || typeof W !== 'number' || H % f !== 0 || W % f !== 0) {
      throw new Error(
        `UNet2DModel.forward: height and width must be static and divisible by 2^(levels - 1) = ${f}, got ${String(H)} x ${String(W)}`,
      );
    }
    if (timestep.rank !== 1 || timestep.shape[0] !== sample.shape[0]) {
      throw new Error(
        `UNet2DModel.forward: timestep must be [${String(sample.shape[0])}] (one per sample), got [${timestep.shape.join(', ')}]`,
      );
    }
    // 0. center input (2 x - 1)
    let x = c.center_input_sample ? sub(mul(sample, 2), 1) : sample;
    // 1. time (+ class) embedding
    let emb = this.timeEmbedding.forward(this.timeProj.forward(timestep));
    const ce = this.classEmbedding;
    if (ce) {
      if (!classLabels)
        throw new Error(
          `UNet2DModel.forward: class labels are required (${c.class_embed_type === null ? 'num_class_embeds is set' : `class_embed_type is "${c.class_embed_type}"`}); pass classLabels`,
        );
      const want = ce === 'identity' ? [sample.shape[0], this.timeEmbedDim] : [sample.shape[0]];
      if (classLabels.rank !== want.length || classLabels.shape.some((d, i) => d !== want[i])) {
        throw new Error(
          `UNet2DModel.forward: classLabels must be [${want.map(String).join(', ')}], got [${classLabels.shape.join(', ')}]`,
        );
      }
      const ye =
        ce === 'identity'
          ? classLabels
          : ce instanceof TimestepEmbedding
            ? ce.forward(this.timeProj.forward(classLabels))
            : ce.forward(classLabels);
      emb = add(emb, ye);
    } else if (classLabels) {
      throw new Error(
        'UNet2DModel.forward: class labels were given but the model has no class embedding (set num_class_embeds in the config)',
      );
    }
    // 2. pre-process, 3. down (skip blocks also carry the input image pyramid)
    let skipSample: Value | null = x;
    x = this.convIn.forward(x);
    const skips: Value[] = [x];
    for (const block of this.downBlocks) {
      const o: { hidden: Value; skips: Value[]; skipSample: Value | null } = block.forward(x, emb, skipSample);
      x = o.hidden;
      skipSample = o.skipSample;
      skips.push(...o.skips);
    }
    // 4. mid
    if (this.midBlock) x = this.midBlock.forward(x, emb);
    // 5. up (each block pops one skip per resnet; skip blocks build the output image pyramid)
    skipSample = null;
    for (const block of this.upBlocks) {
      const o: { hidden: Value; skipSample: Value | null } = block.forward(x, skips, emb, skipSample);
      x = o.hidden;
      skipSample = o.skipSample;
    }
    // 6. post-process
    let out = this.convOut.forward(this.convNormOut.forward(x, SILU));
    if (skipSample) out = add(out, skipSample);
    if (c.time_embedding_type === 'fourier') out = div(out, reshape(timestep, [timestep.shape[0], 1, 1, 1]));
    return out;
  }
}
