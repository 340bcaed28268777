/**
 * GroupNorm (torch.nn.GroupNorm; Wu & He 2018, eqs. (1)-(3) with the groups of eq. (7)) over
 * [N, C, ...]. Parameters `weight` (ones) and `bias` (zeros) [C] when `affine` (default).
 *
 * @example
 *   const norm = new GroupNorm(8, 64);           // 8 groups of 8 channels, eps 1e-5
 *   const h = norm.forward(x);                   // [n, 64, 14, 14]
 *   const a = norm.forward(x, SILU);             // silu(norm(x)), fused
 */
import { groupNorm, groupNormSilu, type Value } from '../engine/index.ts';
import { SILU, type Activation } from './activations.ts';
import { Module, init, type Parameter } from './module.ts';

export interface GroupNormOptions {
  eps?: number;
  affine?: boolean;
}

export class GroupNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: GroupNormOptions = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1)
      throw new Error(`GroupNorm: numGroups must be a positive integer, got ${JSON.stringify(numGroups)}`);
    if (!Number.isInteger(numChannels) || numChannels < 1)
      throw new Error(`GroupNorm: numChannels must be a positive integer, got ${JSON.stringify(numChannels)}`);
    if (numChannels % numGroups !== 0)
      throw new Error(`GroupNorm: numChannels ${numChannels} is not divisible by numGroups ${numGroups}`);
    this.eps = opts.eps ?? 1e-5;
    if (!(this.eps > 0)) throw new Error(`GroupNorm: eps must be > 0, got ${this.eps}`);
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', [numChannels], init.ones()) : null;
    this.bias = affine ? this.param('bias', [numChannels], init.zeros()) : null;
  }

  /**
   * Normalise `x`, then apply `activation` if given; SiLU is fused into the norm (groupNormSilu: one
   * op whose backward pass needs fewer full-size passes, BENCHMARKS.md lever gn-silu).
   */
  forward(x: Value, activation?: Activation): Value {
    if (activation === SILU) return groupNormSilu(x, this.numGroups, this.weight?.value, this.bias?.value, this.eps);
    const y = groupNorm(x, this.numGroups, this.weight?.value, this.bias?.value, this.eps);
    return activation ? activation(y) : y;
  }
}
