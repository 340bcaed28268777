/**
 * Conv2d: 2-D convolution over NCHW input (torch.nn.Conv2d). Parameters `weight`
 * [out, in / groups, kh, kw] and `bias` [out]; PyTorch's default init: both U(-b, b) with
 * b = 1 / sqrt(fan_in), fan_in = in / groups * kh * kw (see `torchDefaultBound`).
 *
 * @example
 *   const conv = new Conv2d(32, 64, 3, { padding: 1 });
 *   const y = conv.forward(x);        // [n, 32, 28, 28] -> [n, 64, 28, 28]
 */
import { conv2d, type Value } from '../engine/index.ts';
import { Module, init, torchDefaultBound, type Parameter } from './module.ts';

export interface Conv2dLayerOptions {
  stride?: number | readonly [number, number];
  /** Zero padding: one number or [ph, pw] (default 0). */
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernelSize: [number, number];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | readonly [number, number],
    readonly options: Conv2dLayerOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    const k: [number, number] =
      typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    for (const [key, v] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
      ['kernelSize', k[0]],
      ['kernelSize', k[1]],
      ['groups', groups],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new Error(
          `Conv2d: ${key} must be a positive integer, got ${JSON.stringify(key === 'kernelSize' ? kernelSize : v)}`,
        );
    }
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `Conv2d: inChannels ${inChannels} and outChannels ${outChannels} must be divisible by groups ${groups}`,
      );
    }
    this.kernelSize = k;
    const bound = torchDefaultBound((inChannels / groups) * k[0] * k[1]);
    this.weight = this.param('weight', [outChannels, inChannels / groups, k[0], k[1]], init.uniform(bound));
    this.bias = options.bias === false ? null : this.param('bias', [outChannels], init.uniform(bound));
  }

  forward(x: Value): Value {
    const { stride, padding, dilation, groups } = this.options;
    return conv2d(x, this.weight.value, this.bias?.value, { stride, padding, dilation, groups });
  }
}
