/**
 * Linear: y = x W^T + b over the last axis (torch.nn.Linear). Parameters `weight` [out, in] and
 * `bias` [out]; PyTorch's default init: both U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with
 * a = sqrt(5), see `torchDefaultBound`).
 *
 * @example
 *   const fc = new Linear(64, 128);
 *   const h = fc.forward(x);          // ['batch', 64] -> ['batch', 128]
 */
import { linear, type Value } from '../engine/index.ts';
import { Module, init, torchDefaultBound, type Parameter } from './module.ts';

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Linear: ${k} must be a positive integer, got ${v}`);
    }
    const bound = torchDefaultBound(inFeatures);
    this.weight = this.param('weight', [outFeatures, inFeatures], init.uniform(bound));
    this.bias = opts.bias === false ? null : this.param('bias', [outFeatures], init.uniform(bound));
  }

  forward(x: Value): Value {
    return linear(x, this.weight.value, this.bias?.value);
  }
}
