/**
 * Downsample2D: the resolution halving of the U-Net (Ronneberger et al. 2015; DDPM, Ho et al. 2020,
 * appendix B), as diffusers' layer of that name: a 3x3 conv with stride 2 and `padding` (when padding
 * is 0 the input is first zero-padded by one row/column at the bottom/right, like diffusers), or 2x2
 * average pooling without conv. Parameter names `conv.weight|bias` (diffusers' blocks build it with
 * name="op", which stores the conv as `conv`).
 *
 * @example
 *   const down = new Downsample2D(64, { useConv: true });     // [n, 64, 28, 28] -> [n, 64, 14, 14]
 */
import { avgPool2d, pad, type Value } from '../engine/index.ts';
import { Conv2d } from './conv2d.ts';
import { Module } from './module.ts';

export interface Downsample2DOptions {
  useConv?: boolean;
  outChannels?: number;
  /** Conv padding (default 1); 0 pads (0, 1, 0, 1) first. */
  padding?: number;
}

export class Downsample2D extends Module {
  readonly conv: Conv2d | null;
  readonly outChannels: number;
  readonly padding: number;

  constructor(
    readonly channels: number,
    opts: Downsample2DOptions = {},
  ) {
    super();
    this.outChannels = opts.outChannels ?? channels;
    this.padding = opts.padding ?? 1;
    if (!Number.isInteger(this.padding) || this.padding < 0)
      throw new Error(`Downsample2D: padding must be an integer >= 0, got ${JSON.stringify(opts.padding)}`);
    if (opts.useConv) {
      this.conv = this.child('conv', new Conv2d(channels, this.outChannels, 3, { stride: 2, padding: this.padding }));
    } else {
      if (this.outChannels !== channels)
        throw new Error(
          `Downsample2D: without a conv the channel count cannot change (${channels} -> ${this.outChannels})`,
        );
      this.conv = null;
    }
  }

  forward(x: Value): Value {
    if (x.rank !== 4 || x.shape[1] !== this.channels)
      throw new Error(`Downsample2D.forward: expected [n, ${this.channels}, H, W], got [${x.shape.join(', ')}]`);
    if (!this.conv) return avgPool2d(x, 2, { stride: 2 });
    const h = this.padding === 0 ? pad(x, [0, 0, 0, 0, 0, 0, 1, 1]) : x;
    return this.conv.forward(h);
  }
}
