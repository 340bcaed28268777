/**
 * The blocks of UNet2DModel (diffusers `unet_2d_blocks.py`), built from ResnetBlock2D, Attention,
 * Downsample2D / Upsample2D and the FIR resamplers, with diffusers' parameter names:
 *
 * - DownBlock2D:              resnets.i, downsamplers.0 (strided conv)
 * - ResnetDownsampleBlock2D:  resnets.i, downsamplers.0 (a resnet with 2x2 average pooling, BigGAN style)
 * - AttnDownBlock2D:          resnets.i, attentions.i, downsamplers.0 (conv, or a pooling resnet for downsample_type "resnet")
 * - SkipDownBlock2D:          resnets.i, resnet_down (FIR), skip_conv (1x1 from the 3-channel image pyramid)       (NCSN++)
 * - AttnSkipDownBlock2D:      the same with attentions.i
 * - UNetMidBlock2D:           resnets.0, [attentions.0, resnets.1]
 * - UpBlock2D / AttnUpBlock2D / ResnetUpsampleBlock2D: resnets.i on concat(h, skip), [attentions.i], upsamplers.0
 * - SkipUpBlock2D / AttnSkipUpBlock2D: resnets.i, [attentions.0 after the last resnet], resnet_up (FIR), skip_norm + skip_conv
 *   (to the 3-channel output pyramid, upsampled with the FIR filter and summed level by level)
 *
 * The skip connections follow DDPM's U-Net (Ho et al. 2020, appendix B; Ronneberger et al. 2015): the up
 * path pops the down path's outputs in reverse order. The skip blocks add NCSN++'s progressive input /
 * output image pyramids (Song et al. 2021, appendix H; Karras et al. 2019's "skip" architecture); their
 * resnets use min(channels / 4, 32) groups and their attention 32 groups, whatever norm_num_groups says,
 * and scale residuals by 1 / sqrt(2) (all as diffusers builds them).
 *
 * @example
 *   const down = new DownBlock2D({ inChannels: 32, outChannels: 64, numLayers: 1, addDownsample: true, downsamplePadding: 1 }, common);
 *   const { hidden, skips } = down.forward(h, temb, null);
 */
import { add, concat, type Value } from '../engine/index.ts';
import { SILU } from '../nn/activations.ts';
import { Attention } from '../nn/attention.ts';
import { Conv2d } from '../nn/conv2d.ts';
import { Downsample2D } from '../nn/downsample.ts';
import { FirDownsample2D, FirUpsample2D } from '../nn/fir.ts';
import { GroupNorm } from '../nn/group_norm.ts';
import { Module } from '../nn/module.ts';
import { ResnetBlock2D } from '../nn/resnet_block.ts';
import { Upsample2D } from '../nn/upsample.ts';

/** Settings shared by all blocks of one UNet (from its config). */
export interface BlockCommon {
  tembChannels: number;
  eps: number;
  actFn: string;
  /** norm_num_groups (null: only the skip blocks and the mid block, which choose min(C / 4, 32), accept it). */
  groups: number | null;
  timeEmbeddingNorm: 'default' | 'scale_shift';
  /** Width of one attention head; null = one head over all channels. */
  attentionHeadDim: number | null;
  /** Dropout probability of every resnet (active in training only). */
  dropout?: number;
}

const SQRT2 = Math.sqrt(2);
const autoGroups = (ch: number) => Math.min(Math.floor(ch / 4), 32);

function groupsOf(c: BlockCommon, where: string): number {
  if (c.groups === null) throw new Error(`${where}: norm_num_groups is null, which only the skip blocks accept`);
  return c.groups;
}

interface ResnetExtra {
  groups?: number;
  groupsOut?: number;
  outputScaleFactor?: number;
  up?: boolean;
  down?: boolean;
  kernel?: 'fir' | null;
  useInShortcut?: boolean;
}

function resnet(c: BlockCommon, inChannels: number, outChannels: number, x: ResnetExtra = {}): ResnetBlock2D {
  return new ResnetBlock2D({
    inChannels,
    outChannels,
    tembChannels: c.tembChannels,
    eps: c.eps,
    groups: x.groups ?? groupsOf(c, 'ResnetBlock2D'),
    groupsOut: x.groupsOut,
    dropout: c.dropout ?? 0,
    timeEmbeddingNorm: c.timeEmbeddingNorm,
    nonLinearity: c.actFn,
    outputScaleFactor: x.outputScaleFactor ?? 1,
    up: x.up,
    down: x.down,
    kernel: x.kernel,
    useInShortcut: x.useInShortcut,
  });
}

/** diffusers' block attention: heads = channels // head_dim, residual, biases, GroupNorm of `groups` (null = none). */
function attention(c: BlockCommon, channels: number, groups: number | null, rescaleOutputFactor = 1): Attention {
  const dimHead = c.attentionHeadDim ?? channels;
  const heads = Math.floor(channels / dimHead);
  if (heads < 1)
    throw new Error(
      `attention over ${channels} channels: attention_head_dim ${dimHead} is larger than the channel count`,
    );
  return new Attention(channels, {
    heads,
    dimHead,
    rescaleOutputFactor,
    eps: c.eps,
    normNumGroups: groups,
    residualConnection: true,
    bias: true,
  });
}

export interface DownBlockOptions {
  inChannels: number;
  outChannels: number;
  numLayers: number;
  addDownsample: boolean;
  downsamplePadding: number;
  /** AttnDownBlock2D only: strided conv (default) or a pooling resnet. */
  downsampleType?: 'conv' | 'resnet';
}

/** Output of a down block: the hidden state, the skip tensors it contributes (in order), and the image pyramid level (skip blocks). */
export interface DownBlockOutput {
  hidden: Value;
  skips: Value[];
  skipSample: Value | null;
}

/** Resnets then an optional strided-conv downsampler (diffusers `DownBlock2D`). */
export class DownBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly downsamplers: Downsample2D[] | null;

  constructor(o: DownBlockOptions, c: BlockCommon) {
    super();
    this.resnets = this.children(
      'resnets',
      Array.from({ length: o.numLayers }, (_, i) => resnet(c, i === 0 ? o.inChannels : o.outChannels, o.outChannels)),
    );
    this.downsamplers = o.addDownsample
      ? this.children('downsamplers', [
          new Downsample2D(o.outChannels, { useConv: true, padding: o.downsamplePadding }),
        ])
      : null;
  }

  forward(x: Value, temb: Value, skipSample: Value | null = null): DownBlockOutput {
    const skips: Value[] = [];
    let h = x;
    for (const r of this.resnets) {
      h = r.forward(h, temb);
      skips.push(h);
    }
    if (this.downsamplers) {
      h = this.downsamplers[0].forward(h);
      skips.push(h);
    }
    return { hidden: h, skips, skipSample };
  }
}

/** Resnets then a resnet that downsamples by 2x2 average pooling (diffusers `ResnetDownsampleBlock2D`). */
export class ResnetDownsampleBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly downsamplers: ResnetBlock2D[] | null;

  constructor(o: DownBlockOptions, c: BlockCommon) {
    super();
    this.resnets = this.children(
      'resnets',
      Array.from({ length: o.numLayers }, (_, i) => resnet(c, i === 0 ? o.inChannels : o.outChannels, o.outChannels)),
    );
    this.downsamplers = o.addDownsample
      ? this.children('downsamplers', [resnet(c, o.outChannels, o.outChannels, { down: true })])
      : null;
  }

  forward(x: Value, temb: Value, skipSample: Value | null = null): DownBlockOutput {
    const skips: Value[] = [];
    let h = x;
    for (const r of this.resnets) {
      h = r.forward(h, temb);
      skips.push(h);
    }
    if (this.downsamplers) {
      h = this.downsamplers[0].forward(h, temb);
      skips.push(h);
    }
    return { hidden: h, skips, skipSample };
  }
}

/** Resnet + self-attention pairs, then an optional downsampler (diffusers `AttnDownBlock2D`). */
export class AttnDownBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Attention[];
  readonly downsamplers: (Downsample2D | ResnetBlock2D)[] | null;

  constructor(o: DownBlockOptions, c: BlockCommon) {
    super();
    const g = groupsOf(c, 'AttnDownBlock2D');
    const resnets = Array.from({ length: o.numLayers }, (_, i) =>
      resnet(c, i === 0 ? o.inChannels : o.outChannels, o.outChannels),
    );
    // diffusers registers `attentions` before `resnets` (state-dict order)
    this.attentions = this.children(
      'attentions',
      Array.from({ length: o.numLayers }, () => attention(c, o.outChannels, g)),
    );
    this.resnets = this.children('resnets', resnets);
    this.downsamplers = !o.addDownsample
      ? null
      : o.downsampleType === 'resnet'
        ? this.children('downsamplers', [resnet(c, o.outChannels, o.outChannels, { down: true })])
        : this.children('downsamplers', [
            new Downsample2D(o.outChannels, { useConv: true, padding: o.downsamplePadding }),
          ]);
  }

  forward(x: Value, temb: Value, skipSample: Value | null = null): DownBlockOutput {
    const skips: Value[] = [];
    let h = x;
    this.resnets.forEach((r, i) => {
      h = this.attentions[i].forward(r.forward(h, temb));
      skips.push(h);
    });
    if (this.downsamplers) {
      const d = this.downsamplers[0];
      h = d instanceof ResnetBlock2D ? d.forward(h, temb) : d.forward(h);
      skips.push(h);
    }
    return { hidden: h, skips, skipSample };
  }
}

/** NCSN++ down block: resnets (+ attention), then a FIR-downsampling resnet plus skip_conv of the downsampled input image. */
export class SkipDownBlock2D extends Module {
  readonly attentions: Attention[];
  readonly resnets: ResnetBlock2D[];
  readonly resnetDown: ResnetBlock2D | null;
  readonly downsamplers: FirDownsample2D[] | null;
  readonly skipConv: Conv2d | null;

  constructor(o: DownBlockOptions, c: BlockCommon, withAttention = false) {
    super();
    this.attentions = this.children(
      'attentions',
      withAttention ? Array.from({ length: o.numLayers }, () => attention(c, o.outChannels, 32, SQRT2)) : [],
    );
    this.resnets = this.children(
      'resnets',
      Array.from({ length: o.numLayers }, (_, i) => {
        const inCh = i === 0 ? o.inChannels : o.outChannels;
        return resnet(c, inCh, o.outChannels, {
          groups: autoGroups(inCh),
          groupsOut: autoGroups(o.outChannels),
          outputScaleFactor: SQRT2,
        });
      }),
    );
    if (o.addDownsample) {
      this.resnetDown = this.child(
        'resnet_down',
        resnet(c, o.outChannels, o.outChannels, {
          groups: autoGroups(o.outChannels),
          outputScaleFactor: SQRT2,
          useInShortcut: true,
          down: true,
          kernel: 'fir',
        }),
      );
      this.downsamplers = this.children('downsamplers', [new FirDownsample2D()]);
      this.skipConv = this.child('skip_conv', new Conv2d(3, o.outChannels, 1));
    } else {
      this.resnetDown = null;
      this.downsamplers = null;
      this.skipConv = null;
    }
  }

  forward(x: Value, temb: Value, skipSample: Value | null): DownBlockOutput {
    const skips: Value[] = [];
    let h = x;
    this.resnets.forEach((r, i) => {
      h = r.forward(h, temb);
      if (this.attentions.length > 0) h = this.attentions[i].forward(h);
      skips.push(h);
    });
    let s = skipSample;
    if (this.resnetDown && this.downsamplers && this.skipConv) {
      if (!s) throw new Error(`${this.constructor.name}.forward: the skip sample (the input image) is required`);
      h = this.resnetDown.forward(h, temb);
      s = this.downsamplers[0].forward(s);
      h = add(this.skipConv.forward(s), h);
      skips.push(h);
    }
    return { hidden: h, skips, skipSample: s };
  }
}

/** SkipDownBlock2D with self-attention after each resnet (diffusers `AttnSkipDownBlock2D`). */
export class AttnSkipDownBlock2D extends SkipDownBlock2D {
  constructor(o: DownBlockOptions, c: BlockCommon) {
    super(o, c, true);
  }
}

export interface MidBlockOptions {
  channels: number;
  /** Resnet output scale and attention rescale (UNet2DModel's mid_block_scale_factor). */
  outputScaleFactor: number;
  addAttention: boolean;
  /** Groups of the attention GroupNorm; undefined/null = the resnet groups for 'default' time embedding norm, else none (diffusers' rule). */
  attnGroups?: number | null;
}

/** resnet, (attention,) resnet at the lowest resolution (diffusers `UNetMidBlock2D` with num_layers 1). */
export class UNetMidBlock2D extends Module {
  readonly attentions: Attention[];
  readonly resnets: ResnetBlock2D[];

  constructor(o: MidBlockOptions, c: BlockCommon) {
    super();
    const rg = c.groups ?? autoGroups(o.channels);
    const groups =
      o.attnGroups === undefined || o.attnGroups === null
        ? c.timeEmbeddingNorm === 'default'
          ? rg
          : null
        : o.attnGroups;
    // diffusers registers `attentions` before `resnets` in this block (state-dict order)
    this.attentions = this.children(
      'attentions',
      o.addAttention ? [attention(c, o.channels, groups, o.outputScaleFactor)] : [],
    );
    const x = { groups: rg, outputScaleFactor: o.outputScaleFactor };
    this.resnets = this.children('resnets', [
      resnet(c, o.channels, o.channels, x),
      resnet(c, o.channels, o.channels, x),
    ]);
  }

  forward(x: Value, temb: Value): Value {
    let h = this.resnets[0].forward(x, temb);
    if (this.attentions.length > 0) h = this.attentions[0].forward(h);
    return this.resnets[1].forward(h, temb);
  }
}

export interface UpBlockOptions {
  /** Channels of the skips coming from the matching down level (the last resnet's skip width). */
  inChannels: number;
  /** Channels of the hidden state entering the block. */
  prevOutputChannel: number;
  outChannels: number;
  numLayers: number;
  addUpsample: boolean;
  /** AttnUpBlock2D only: nearest x2 + conv (default) or a resnet that upsamples. */
  upsampleType?: 'conv' | 'resnet';
}

/** Output of an up block: the hidden state and the output image pyramid so far (skip blocks; else passed through). */
export interface UpBlockOutput {
  hidden: Value;
  skipSample: Value | null;
}

function upResnets(
  o: UpBlockOptions,
  c: BlockCommon,
  extra: (resIn: number, resSkip: number) => ResnetExtra = () => ({}),
): ResnetBlock2D[] {
  return Array.from({ length: o.numLayers }, (_, i) => {
    const resSkip = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
    const resIn = i === 0 ? o.prevOutputChannel : o.outChannels;
    return resnet(c, resIn + resSkip, o.outChannels, extra(resIn, resSkip));
  });
}

function popSkip(skips: Value[], where: string): Value {
  const s = skips.pop();
  if (!s) throw new Error(`${where}: ran out of skip connections`);
  return s;
}

/** Resnets on concat(h, skip), then an optional nearest x2 + conv upsampler (diffusers `UpBlock2D`). */
export class UpBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly upsamplers: Upsample2D[] | null;

  constructor(o: UpBlockOptions, c: BlockCommon) {
    super();
    this.resnets = this.children('resnets', upResnets(o, c));
    this.upsamplers = o.addUpsample
      ? this.children('upsamplers', [new Upsample2D(o.outChannels, { useConv: true })])
      : null;
  }

  /** `skips` is consumed from its end (one per resnet). */
  forward(x: Value, skips: Value[], temb: Value, skipSample: Value | null = null): UpBlockOutput {
    let h = x;
    for (const r of this.resnets) h = r.forward(concat([h, popSkip(skips, 'UpBlock2D')], 1), temb);
    return { hidden: this.upsamplers ? this.upsamplers[0].forward(h) : h, skipSample };
  }
}

/** Resnets on concat(h, skip), then a resnet that upsamples (nearest x2) (diffusers `ResnetUpsampleBlock2D`). */
export class ResnetUpsampleBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly upsamplers: ResnetBlock2D[] | null;

  constructor(o: UpBlockOptions, c: BlockCommon) {
    super();
    this.resnets = this.children('resnets', upResnets(o, c));
    this.upsamplers = o.addUpsample
      ? this.children('upsamplers', [resnet(c, o.outChannels, o.outChannels, { up: true })])
      : null;
  }

  forward(x: Value, skips: Value[], temb: Value, skipSample: Value | null = null): UpBlockOutput {
    let h = x;
    for (const r of this.resnets) h = r.forward(concat([h, popSkip(skips, 'ResnetUpsampleBlock2D')], 1), temb);
    return { hidden: this.upsamplers ? this.upsamplers[0].forward(h, temb) : h, skipSample };
  }
}

/** Resnet + self-attention pairs on concat(h, skip), then an optional upsampler (diffusers `AttnUpBlock2D`). */
export class AttnUpBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Attention[];
  readonly upsamplers: (Upsample2D | ResnetBlock2D)[] | null;

  constructor(o: UpBlockOptions, c: BlockCommon) {
    super();
    const g = groupsOf(c, 'AttnUpBlock2D');
    const resnets = upResnets(o, c);
    this.attentions = this.children(
      'attentions',
      Array.from({ length: o.numLayers }, () => attention(c, o.outChannels, g)),
    );
    this.resnets = this.children('resnets', resnets);
    this.upsamplers = !o.addUpsample
      ? null
      : o.upsampleType === 'resnet'
        ? this.children('upsamplers', [resnet(c, o.outChannels, o.outChannels, { up: true })])
        : this.children('upsamplers', [new Upsample2D(o.outChannels, { useConv: true })]);
  }

  forward(x: Value, skips: Value[], temb: Value, skipSample: Value | null = null): UpBlockOutput {
    let h = x;
    this.resnets.forEach((r, i) => {
      h = this.attentions[i].forward(r.forward(concat([h, popSkip(skips, 'AttnUpBlock2D')], 1), temb));
    });
    if (this.upsamplers) {
      const u = this.upsamplers[0];
      h = u instanceof ResnetBlock2D ? u.forward(h, temb) : u.forward(h);
    }
    return { hidden: h, skipSample };
  }
}

/** NCSN++ up block: resnets on concat(h, skip) (+ one attention), the output pyramid (FIR-upsampled, plus skip_conv(act(skip_norm(h)))), a FIR-upsampling resnet. */
export class SkipUpBlock2D extends Module {
  readonly attentions: Attention[];
  readonly resnets: ResnetBlock2D[];
  readonly upsampler: FirUpsample2D;
  readonly resnetUp: ResnetBlock2D | null;
  readonly skipConv: Conv2d | null;
  readonly skipNorm: GroupNorm | null;

  constructor(o: UpBlockOptions, c: BlockCommon, withAttention = false) {
    super();
    this.attentions = this.children('attentions', withAttention ? [attention(c, o.outChannels, 32, SQRT2)] : []);
    // diffusers' AttnSkipUpBlock2D computes min(resnet_in + res_skip // 4, 32) (precedence as written); SkipUpBlock2D min((in + skip) // 4, 32)
    this.resnets = this.children(
      'resnets',
      upResnets(o, c, (resIn, resSkip) => ({
        groups: withAttention ? Math.min(resIn + Math.floor(resSkip / 4), 32) : autoGroups(resIn + resSkip),
        groupsOut: autoGroups(o.outChannels),
        outputScaleFactor: SQRT2,
      })),
    );
    this.upsampler = this.child('upsampler', new FirUpsample2D());
    if (o.addUpsample) {
      const g = autoGroups(o.outChannels);
      this.resnetUp = this.child(
        'resnet_up',
        resnet(c, o.outChannels, o.outChannels, {
          groups: g,
          groupsOut: g,
          outputScaleFactor: SQRT2,
          useInShortcut: true,
          up: true,
          kernel: 'fir',
        }),
      );
      this.skipConv = this.child('skip_conv', new Conv2d(o.outChannels, 3, 3, { padding: 1 }));
      this.skipNorm = this.child('skip_norm', new GroupNorm(g, o.outChannels, { eps: c.eps }));
    } else {
      this.resnetUp = null;
      this.skipConv = null;
      this.skipNorm = null;
    }
  }

  forward(x: Value, skips: Value[], temb: Value, skipSample: Value | null): UpBlockOutput {
    let h = x;
    for (const r of this.resnets) h = r.forward(concat([h, popSkip(skips, this.constructor.name)], 1), temb);
    if (this.attentions.length > 0) h = this.attentions[0].forward(h);
    let s = skipSample ? this.upsampler.forward(skipSample) : null;
    if (this.resnetUp && this.skipConv && this.skipNorm) {
      const level = this.skipConv.forward(this.skipNorm.forward(h, SILU));
      s = s ? add(s, level) : level;
      h = this.resnetUp.forward(h, temb);
    }
    return { hidden: h, skipSample: s };
  }
}

/** SkipUpBlock2D with one self-attention after its resnets (diffusers `AttnSkipUpBlock2D`). */
export class AttnSkipUpBlock2D extends SkipUpBlock2D {
  constructor(o: UpBlockOptions, c: BlockCommon) {
    super(o, c, true);
  }
}

export type AnyDownBlock = DownBlock2D | ResnetDownsampleBlock2D | AttnDownBlock2D | SkipDownBlock2D;
export type AnyUpBlock = UpBlock2D | ResnetUpsampleBlock2D | AttnUpBlock2D | SkipUpBlock2D;
