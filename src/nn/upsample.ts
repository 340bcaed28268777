/**
 * Upsample2D: the resolution doubling of the U-Net (DDPM, Ho et al. 2020, appendix B), as diffusers'
 * layer of that name: nearest-neighbour x2, then an optional 3x3 conv (padding 1), `conv.weight|bias`.
 *
 * @example
 *   const up = new Upsample2D(64, { useConv: true });         // [n, 64, 7, 7] -> [n, 64, 14, 14]
 */
import { upsampleNearest2d, type Value } from '../engine/index.ts';
import { Conv2d } from './conv2d.ts';
import { Module } from './module.ts';

export interface Upsample2DOptions {
  useConv?: boolean;
  outChannels?: number;
}

export class Upsample2D extends Module {
  readonly conv: Conv2d | null;
  readonly outChannels: number;

  constructor(
    readonly channels: number,
    opts: Upsample2DOptions = {},
  ) {
    super();
    this.outChannels = opts.outChannels ?? channels;
    if (!opts.useConv && this.outChannels !== channels)
      throw new Error(
        `Upsample2D: without a conv the channel count cannot change (${channels} -> ${this.outChannels})`,
      );
    this.conv = opts.useConv ? this.child('conv', new Conv2d(channels, this.outChannels, 3, { padding: 1 })) : null;
  }

  forward(x: Value): Value {
    if (x.rank !== 4 || x.shape[1] !== this.channels)
      throw new Error(`Upsample2D.forward: expected [n, ${this.channels}, H, W], got [${x.shape.join(', ')}]`);
    const h = upsampleNearest2d(x, 2);
    return this.conv ? this.conv.forward(h) : h;
  }
}
