/**
 * Attention: multi-head self-attention over the pixels of a feature map (Vaswani et al. 2017,
 * eq. (1): softmax(Q K^T / sqrt(d)) V), in the form diffusers' `Attention` + `AttnProcessor` take in
 * UNet2DModel's attention blocks (Ho et al. 2020 use it at the 16x16 level):
 *
 *   h = group_norm(x)  ->  [n, H W, C]  ->  q, k, v = to_q(h), to_k(h), to_v(h)
 *   o = to_out.0(concat_heads(softmax(q_h k_h^T scale) v_h)),  scale = dim_head^-1/2
 *   y = (o reshaped back to [n, C, H, W] + x) / rescale_output_factor   (residual when residualConnection)
 *
 * Parameter names: `group_norm.weight|bias` (when normNumGroups is set), `to_q`, `to_k`, `to_v`,
 * `to_out.0` (each `.weight|bias`). `to_out.1` is a dropout (p = 0) without parameters.
 * The query is multiplied by the scale before the product (diffusers scales the product: the same
 * number up to float32 rounding). Inputs [n, C, H, W] or token sequences [n, L, C].
 *
 * @example
 *   const attn = new Attention(64, { heads: 8, dimHead: 8, normNumGroups: 8, residualConnection: true });
 *   const y = attn.forward(h);     // [n, 64, 7, 7] -> [n, 64, 7, 7]
 */
import { add, div, matmul, mul, permute, reshape, softmax, transpose, type Value } from '../engine/index.ts';
import { Dropout } from './dropout.ts';
import { GroupNorm } from './group_norm.ts';
import { Linear } from './linear.ts';
import { Module } from './module.ts';

export interface AttentionOptions {
  /** Number of heads (default 8). */
  heads?: number;
  /** Width of each head (default 64); the inner width is heads * dimHead. */
  dimHead?: number;
  /** Groups of the input GroupNorm; null/undefined = no norm. */
  normNumGroups?: number | null;
  /** Epsilon of that GroupNorm (default 1e-5). */
  eps?: number;
  /** Divide the output by this (default 1). */
  rescaleOutputFactor?: number;
  /** Add the input to the output (default false). */
  residualConnection?: boolean;
  /** Biases on to_q, to_k, to_v (default false, like diffusers; its UNet blocks pass true). */
  bias?: boolean;
  /** Bias on to_out.0 (default true). */
  outBias?: boolean;
  /** Dropout after to_out.0; only 0 is supported. */
  dropout?: number;
}

export class Attention extends Module {
  readonly heads: number;
  readonly dimHead: number;
  readonly innerDim: number;
  readonly scale: number;
  readonly rescaleOutputFactor: number;
  readonly residualConnection: boolean;
  readonly groupNorm: GroupNorm | null;
  readonly toQ: Linear;
  readonly toK: Linear;
  readonly toV: Linear;
  readonly toOut: [Linear, Dropout];

  constructor(
    readonly queryDim: number,
    opts: AttentionOptions = {},
  ) {
    super();
    this.heads = opts.heads ?? 8;
    this.dimHead = opts.dimHead ?? 64;
    for (const [k, v] of [
      ['queryDim', queryDim],
      ['heads', this.heads],
      ['dimHead', this.dimHead],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new Error(`Attention: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    this.innerDim = this.heads * this.dimHead;
    this.scale = this.dimHead ** -0.5;
    this.rescaleOutputFactor = opts.rescaleOutputFactor ?? 1;
    if (!(this.rescaleOutputFactor > 0) || !Number.isFinite(this.rescaleOutputFactor)) {
      throw new Error(`Attention: rescaleOutputFactor must be a finite number > 0, got ${this.rescaleOutputFactor}`);
    }
    this.residualConnection = opts.residualConnection ?? false;
    const groups = opts.normNumGroups ?? null;
    this.groupNorm =
      groups === null ? null : this.child('group_norm', new GroupNorm(groups, queryDim, { eps: opts.eps ?? 1e-5 }));
    const bias = opts.bias ?? false;
    this.toQ = this.child('to_q', new Linear(queryDim, this.innerDim, { bias }));
    this.toK = this.child('to_k', new Linear(queryDim, this.innerDim, { bias }));
    this.toV = this.child('to_v', new Linear(queryDim, this.innerDim, { bias }));
    const out = new Linear(this.innerDim, queryDim, { bias: opts.outBias ?? true });
    this.toOut = this.children('to_out', [out, new Dropout(opts.dropout ?? 0, 'Attention')]) as [Linear, Dropout];
  }

  /** [n, C, H, W] -> [n, C, H, W], or [n, L, C] -> [n, L, C]. */
  forward(x: Value): Value {
    const C = this.queryDim;
    let tokens: Value;
    let back: (o: Value) => Value;
    if (x.rank === 4) {
      if (x.shape[1] !== C)
        throw new Error(
          `Attention.forward: input has ${String(x.shape[1])} channels, the layer expects ${C} ([n, ${C}, H, W])`,
        );
      const [n, , H, W] = x.shape;
      if (typeof H !== 'number' || typeof W !== 'number')
        throw new Error(`Attention.forward: spatial dimensions must be static, got [${x.shape.join(', ')}]`);
      const h = this.groupNorm ? this.groupNorm.forward(x) : x;
      tokens = transpose(reshape(h, [n, C, H * W]), 1, 2);
      back = (o) => reshape(transpose(o, 1, 2), [n, C, H, W]);
    } else if (x.rank === 3) {
      if (x.shape[2] !== C)
        throw new Error(
          `Attention.forward: tokens have width ${String(x.shape[2])}, the layer expects ${C} ([n, L, ${C}])`,
        );
      tokens = this.groupNorm ? transpose(this.groupNorm.forward(transpose(x, 1, 2)), 1, 2) : x;
      back = (o) => o;
    } else {
      throw new Error(`Attention.forward: input must be [n, C, H, W] or [n, L, C], got [${x.shape.join(', ')}]`);
    }
    const [n, L] = tokens.shape;
    const split = (t: Value) => permute(reshape(t, [n, L, this.heads, this.dimHead]), [0, 2, 1, 3]); // [n, heads, L, d]
    const q = split(mul(this.toQ.forward(tokens), this.scale));
    const k = split(this.toK.forward(tokens));
    const v = split(this.toV.forward(tokens));
    const p = softmax(matmul(q, transpose(k)), -1); // [n, heads, L, L]
    const o = reshape(permute(matmul(p, v), [0, 2, 1, 3]), [n, L, this.innerDim]);
    let y = back(this.toOut[1].forward(this.toOut[0].forward(o)));
    if (this.residualConnection) y = add(y, x);
    if (this.rescaleOutputFactor !== 1) y = div(y, this.rescaleOutputFactor);
    return y;
  }
}
