/**
 * The blocks of UNet2DModel (diffusers `unet_2d_blocks.py`), built from ResnetBlock2D, Attention,
 * Downsample2D and Upsample2D with diffusers' parameter names:
 *
 * - DownBlock2D:      resnets.i, downsamplers.0                    (returns every resnet output + the downsampled one as skips)
 * - AttnDownBlock2D:  resnets.i, attentions.i, downsamplers.0       (attention after each resnet)
 * - UNetMidBlock2D:   resnets.0, [attentions.0, resnets.1]
 * - UpBlock2D:        resnets.i (input = concat(h, skip) on channels), upsamplers.0
 * - AttnUpBlock2D:    resnets.i, attentions.i, upsamplers.0
 *
 * The skip connections follow DDPM's U-Net (Ho et al. 2020, appendix B; Ronneberger et al. 2015):
 * the up path pops the down path's outputs in reverse order.
 *
 * @example
 *   const down = new DownBlock2D({ inChannels: 32, outChannels: 64, numLayers: 1, addDownsample: true, ...common });
 *   const { hidden, skips } = down.forward(h, temb);
 */
import { concat, type Value } from '../engine/index.ts';
import { Attention } from '../nn/attention.ts';
import { Downsample2D } from '../nn/downsample.ts';
import { Module } from '../nn/module.ts';
import { ResnetBlock2D } from '../nn/resnet_block.ts';
import { Upsample2D } from '../nn/upsample.ts';

/** Settings shared by all blocks of one UNet (from its config). */
export interface BlockCommon {
  tembChannels: number;
  eps: number;
  actFn: string;
  groups: number;
  timeEmbeddingNorm: 'default' | 'scale_shift';
  /** Width of one attention head; null = one head over all channels. */
  attentionHeadDim: number | null;
}

function resnet(c: BlockCommon, inChannels: number, outChannels: number, outputScaleFactor = 1): ResnetBlock2D {
  return new ResnetBlock2D({
    inChannels, outChannels, tembChannels: c.tembChannels, eps: c.eps, groups: c.groups, dropout: 0,
    timeEmbeddingNorm: c.timeEmbeddingNorm, nonLinearity: c.actFn, outputScaleFactor,
  });
}

/** diffusers' block attention: heads = channels // head_dim, residual, biases, GroupNorm of `groups` (null = none). */
function attention(c: BlockCommon, channels: number, groups: number | null, rescaleOutputFactor = 1): Attention {
  const dimHead = c.attentionHeadDim ?? channels;
  const heads = Math.floor(channels / dimHead);
  if (heads < 1) throw new Error(`attention over ${channels} channels: attention_head_dim ${dimHead} is larger than the channel count`);
  return new Attention(channels, {
    heads, dimHead, rescaleOutputFactor, eps: c.eps, normNumGroups: groups, residualConnection: true, bias: true,
  });
}

export interface DownBlockOptions {
  inChannels: number;
  outChannels: number;
  numLayers: number;
  addDownsample: boolean;
  downsamplePadding: number;
}

/** Output of a down block: the hidden state and the skip tensors it contributes (in order). */
export interface DownBlockOutput { hidden: Value; skips: Value[] }

/** Resnets then an optional strided-conv downsampler (diffusers `DownBlock2D`). */
export class DownBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly downsamplers: Downsample2D[] | null;

  constructor(o: DownBlockOptions, c: BlockCommon) {
    super();
    this.resnets = this.children('resnets', Array.from({ length: o.numLayers }, (_, i) => resnet(c, i === 0 ? o.inChannels : o.outChannels, o.outChannels)));
    this.downsamplers = o.addDownsample
      ? this.children('downsamplers', [new Downsample2D(o.outChannels, { useConv: true, padding: o.downsamplePadding })])
      : null;
  }

  forward(x: Value, temb: Value): DownBlockOutput {
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
    return { hidden: h, skips };
  }
}

/** Resnet + self-attention pairs, then an optional downsampler (diffusers `AttnDownBlock2D`). */
export class AttnDownBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Attention[];
  readonly downsamplers: Downsample2D[] | null;

  constructor(o: DownBlockOptions, c: BlockCommon) {
    super();
    const resnets = Array.from({ length: o.numLayers }, (_, i) => resnet(c, i === 0 ? o.inChannels : o.outChannels, o.outChannels));
    // diffusers registers `attentions` before `resnets` (state-dict order)
    this.attentions = this.children('attentions', Array.from({ length: o.numLayers }, () => attention(c, o.outChannels, c.groups)));
    this.resnets = this.children('resnets', resnets);
    this.downsamplers = o.addDownsample
      ? this.children('downsamplers', [new Downsample2D(o.outChannels, { useConv: true, padding: o.downsamplePadding })])
      : null;
  }

  forward(x: Value, temb: Value): DownBlockOutput {
    const skips: Value[] = [];
    let h = x;
    this.resnets.forEach((r, i) => {
      h = this.attentions[i].forward(r.forward(h, temb));
      skips.push(h);
    });
    if (this.downsamplers) {
      h = this.downsamplers[0].forward(h);
      skips.push(h);
    }
    return { hidden: h, skips };
  }
}

export interface MidBlockOptions {
  channels: number;
  /** Resnet output scale and attention rescale (UNet2DModel's mid_block_scale_factor). */
  outputScaleFactor: number;
  addAttention: boolean;
  /** Groups of the attention GroupNorm; undefined = `groups` for 'default' time embedding norm, else none (diffusers' rule). */
  attnGroups?: number | null;
}

/** resnet, (attention,) resnet at the lowest resolution (diffusers `UNetMidBlock2D` with num_layers 1). */
export class UNetMidBlock2D extends Module {
  readonly attentions: Attention[];
  readonly resnets: ResnetBlock2D[];

  constructor(o: MidBlockOptions, c: BlockCommon) {
    super();
    const groups = o.attnGroups === undefined || o.attnGroups === null
      ? (c.timeEmbeddingNorm === 'default' ? c.groups : null)
      : o.attnGroups;
    // diffusers registers `attentions` before `resnets` in this block (state-dict order)
    this.attentions = this.children('attentions', o.addAttention ? [attention(c, o.channels, groups, o.outputScaleFactor)] : []);
    this.resnets = this.children('resnets', [resnet(c, o.channels, o.channels, o.outputScaleFactor), resnet(c, o.channels, o.channels, o.outputScaleFactor)]);
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
}

function upResnets(o: UpBlockOptions, c: BlockCommon): ResnetBlock2D[] {
  return Array.from({ length: o.numLayers }, (_, i) => {
    const resSkip = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
    const resIn = i === 0 ? o.prevOutputChannel : o.outChannels;
    return resnet(c, resIn + resSkip, o.outChannels);
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
    this.upsamplers = o.addUpsample ? this.children('upsamplers', [new Upsample2D(o.outChannels, { useConv: true })]) : null;
  }

  /** `skips` is consumed from its end (one per resnet). */
  forward(x: Value, skips: Value[], temb: Value): Value {
    let h = x;
    for (const r of this.resnets) h = r.forward(concat([h, popSkip(skips, 'UpBlock2D')], 1), temb);
    return this.upsamplers ? this.upsamplers[0].forward(h) : h;
  }
}

/** Resnet + self-attention pairs on concat(h, skip), then an optional upsampler (diffusers `AttnUpBlock2D`). */
export class AttnUpBlock2D extends Module {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Attention[];
  readonly upsamplers: Upsample2D[] | null;

  constructor(o: UpBlockOptions, c: BlockCommon) {
    super();
    const resnets = upResnets(o, c);
    this.attentions = this.children('attentions', Array.from({ length: o.numLayers }, () => attention(c, o.outChannels, c.groups)));
    this.resnets = this.children('resnets', resnets);
    this.upsamplers = o.addUpsample ? this.children('upsamplers', [new Upsample2D(o.outChannels, { useConv: true })]) : null;
  }

  forward(x: Value, skips: Value[], temb: Value): Value {
    let h = x;
    this.resnets.forEach((r, i) => {
      h = this.attentions[i].forward(r.forward(concat([h, popSkip(skips, 'AttnUpBlock2D')], 1), temb));
    });
    return this.upsamplers ? this.upsamplers[0].forward(h) : h;
  }
}
