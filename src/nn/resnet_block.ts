/**
 * ResnetBlock2D: the residual block of DDPM's U-Net (Ho et al. 2020, appendix B; wide-resnet style
 * with the time embedding added between the convolutions), as diffusers' `ResnetBlock2D`:
 *
 *   h = conv1(act(norm1(x)))
 *   'default':     h = norm2(h + time_emb_proj(act(temb))[:, :, None, None])
 *   'scale_shift': s, b = chunk(time_emb_proj(act(temb)), 2);  h = norm2(h) (1 + s) + b    (Dhariwal & Nichol 2021, "AdaGN")
 *   h = conv2(dropout(act(h)));   y = (shortcut(x) + h) / output_scale_factor
 *
 * shortcut = 1x1 `conv_shortcut` when the channel count changes (or useInShortcut), else identity.
 * With `up` / `down` (BigGAN-style resampling resnets, Brock et al. 2019; diffusers' ResnetDownsampleBlock2D,
 * skip blocks), both act(norm1(x)) and the shortcut input are resampled before conv1: kernel 'fir' (the
 * [1, 3, 3, 1] FIR filter, nn/fir.ts), 'sde_vp' (nearest x2 / 2x2 average), or null (Upsample2D /
 * Downsample2D without conv: nearest x2 / 2x2 average).
 * Parameter names: norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut.
 *
 * @example
 *   const block = new ResnetBlock2D({ inChannels: 32, outChannels: 64, tembChannels: 128, groups: 8 });
 *   const h = block.forward(x, temb);      // [n, 32, 28, 28], [n, 128] -> [n, 64, 28, 28]
 */
import { add, avgPool2d, chunk, div, mul, reshape, upsampleNearest2d, type Value } from '../engine/index.ts';
import { firDownsample2d, firUpsample2d } from './fir.ts';
import { getActivation, type Activation } from './activations.ts';
import { Conv2d } from './conv2d.ts';
import { Dropout } from './dropout.ts';
import { GroupNorm } from './group_norm.ts';
import { Linear } from './linear.ts';
import { Module } from './module.ts';

export interface ResnetBlock2DOptions {
  inChannels: number;
  /** Default inChannels. */
  outChannels?: number;
  /** Width of the time embedding; null = no time conditioning (default 512, like diffusers). */
  tembChannels?: number | null;
  /** GroupNorm groups of norm1 (default 32) and of norm2 (groupsOut, default groups). */
  groups?: number;
  groupsOut?: number;
  /** GroupNorm epsilon (default 1e-6, like diffusers' block; UNet2DModel passes norm_eps). */
  eps?: number;
  /** Dropout before conv2 (active only inside withDropoutNoise, see nn/dropout.ts). */
  dropout?: number;
  /** Resample by 2 inside the block (see the file comment). */
  up?: boolean;
  down?: boolean;
  kernel?: 'fir' | 'sde_vp' | null;
  /** Activation name (default 'swish' = SiLU). */
  nonLinearity?: string;
  skipTimeAct?: boolean;
  timeEmbeddingNorm?: 'default' | 'scale_shift';
  outputScaleFactor?: number;
  /** Force (true) or forbid (false) the 1x1 shortcut conv; default: when channels change. */
  useInShortcut?: boolean;
  convShortcutBias?: boolean;
}

export class ResnetBlock2D extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly timeEmbeddingNorm: 'default' | 'scale_shift';
  readonly outputScaleFactor: number;
  readonly skipTimeAct: boolean;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly timeEmbProj: Linear | null;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv2d;
  readonly convShortcut: Conv2d | null;
  private readonly act: Activation;
  private readonly resample: ((x: Value) => Value) | null;

  constructor(o: ResnetBlock2DOptions) {
    super();
    this.inChannels = o.inChannels;
    this.outChannels = o.outChannels ?? o.inChannels;
    this.timeEmbeddingNorm = o.timeEmbeddingNorm ?? 'default';
    if (this.timeEmbeddingNorm !== 'default' && this.timeEmbeddingNorm !== 'scale_shift') {
      throw new Error(
        `ResnetBlock2D: timeEmbeddingNorm ${JSON.stringify(this.timeEmbeddingNorm)} is not supported (allowed: "default", "scale_shift")`,
      );
    }
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
    if (!(this.outputScaleFactor > 0) || !Number.isFinite(this.outputScaleFactor)) {
      throw new Error(`ResnetBlock2D: outputScaleFactor must be a finite number > 0, got ${this.outputScaleFactor}`);
    }
    this.skipTimeAct = o.skipTimeAct ?? false;
    const groups = o.groups ?? 32;
    const eps = o.eps ?? 1e-6;
    this.norm1 = this.child('norm1', new GroupNorm(groups, this.inChannels, { eps }));
    this.conv1 = this.child('conv1', new Conv2d(this.inChannels, this.outChannels, 3, { padding: 1 }));
    const temb = o.tembChannels === undefined ? 512 : o.tembChannels;
    this.timeEmbProj =
      temb === null
        ? null
        : this.child(
            'time_emb_proj',
            new Linear(temb, this.timeEmbeddingNorm === 'scale_shift' ? 2 * this.outChannels : this.outChannels),
          );
    this.norm2 = this.child('norm2', new GroupNorm(o.groupsOut ?? groups, this.outChannels, { eps }));
    this.dropout = this.child('dropout', new Dropout(o.dropout ?? 0, 'ResnetBlock2D'));
    this.conv2 = this.child('conv2', new Conv2d(this.outChannels, this.outChannels, 3, { padding: 1 }));
    this.act = getActivation(o.nonLinearity ?? 'swish', 'ResnetBlock2D');
    if (o.up && o.down) throw new Error('ResnetBlock2D: up and down cannot both be set');
    const kernel = o.kernel ?? null;
    if (kernel !== null && kernel !== 'fir' && kernel !== 'sde_vp')
      throw new Error(
        `ResnetBlock2D: kernel ${JSON.stringify(kernel)} is not supported (allowed: "fir", "sde_vp", null)`,
      );
    this.resample = o.up
      ? kernel === 'fir'
        ? firUpsample2d
        : (x) => upsampleNearest2d(x, 2)
      : o.down
        ? kernel === 'fir'
          ? firDownsample2d
          : (x) => avgPool2d(x, 2, { stride: 2 })
        : null;
    const shortcut = o.useInShortcut ?? this.inChannels !== this.outChannels;
    this.convShortcut = shortcut
      ? this.child(
          'conv_shortcut',
          new Conv2d(this.inChannels, this.outChannels, 1, { bias: o.convShortcutBias ?? true }),
        )
      : null;
  }

  /** x [n, inChannels, H, W], temb [n, tembChannels] (or null) -> [n, outChannels, H, W]. */
  forward(x: Value, temb: Value | null): Value {
    let h = this.norm1.forward(x, this.act);
    if (this.resample) {
      x = this.resample(x);
      h = this.resample(h);
    }
    h = this.conv1.forward(h);
    let t: Value | null = null;
    if (this.timeEmbProj && temb) {
      t = this.timeEmbProj.forward(this.skipTimeAct ? temb : this.act(temb));
      t = reshape(t, [t.shape[0], t.shape[1], 1, 1]);
    }
    if (this.timeEmbeddingNorm === 'default') {
      h = this.norm2.forward(t ? add(h, t) : h, this.act);
    } else {
      if (!t) throw new Error('ResnetBlock2D.forward: temb must be given when timeEmbeddingNorm is "scale_shift"');
      const [scale, shift] = chunk(t, 2, 1);
      h = this.act(add(mul(this.norm2.forward(h), add(scale, 1)), shift));
    }
    h = this.conv2.forward(this.dropout.forward(h));
    const skip = this.convShortcut ? this.convShortcut.forward(x) : x;
    const y = add(skip, h);
    return this.outputScaleFactor === 1 ? y : div(y, this.outputScaleFactor);
  }
}
