/**
 * TimestepEmbedding: the MLP that turns the sinusoidal timestep features into the model's time
 * embedding (diffusers `TimestepEmbedding`, as in UNet2DModel): linear_1 -> act -> linear_2.
 * Parameter names `linear_1.weight|bias`, `linear_2.weight|bias`.
 *
 * @example
 *   const te = new TimestepEmbedding(32, 128);   // [n, 32] -> [n, 128]
 *   const emb = te.forward(timeProj.forward(t));
 */
import type { Value } from '../engine/index.ts';
import { getActivation, type Activation } from './activations.ts';
import { Linear } from './linear.ts';
import { Module } from './module.ts';

export interface TimestepEmbeddingOptions {
  /** Activation between the two linears (default 'silu'). */
  actFn?: string;
  /** Output width (default timeEmbedDim). */
  outDim?: number;
}

export class TimestepEmbedding extends Module {
  readonly linear1: Linear;
  readonly linear2: Linear;
  private readonly act: Activation;

  constructor(
    readonly inChannels: number,
    readonly timeEmbedDim: number,
    opts: TimestepEmbeddingOptions = {},
  ) {
    super();
    this.linear1 = this.child('linear_1', new Linear(inChannels, timeEmbedDim));
    this.act = getActivation(opts.actFn ?? 'silu', 'TimestepEmbedding');
    this.linear2 = this.child('linear_2', new Linear(timeEmbedDim, opts.outDim ?? timeEmbedDim));
  }

  forward(sample: Value): Value {
    return this.linear2.forward(this.act(this.linear1.forward(sample)));
  }
}
