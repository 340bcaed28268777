/**
 * Embedding: a lookup table [numEmbeddings, embeddingDim] (torch.nn.Embedding). Parameter `weight`,
 * initialised N(0, 1) like PyTorch's `reset_parameters`.
 *
 * @example
 *   const emb = new Embedding(10, 128);
 *   const e = emb.forward(labels);     // labels ['batch'] (int64, or float32 class ids) -> ['batch', 128]
 */
import { embedding, type Value } from '../engine/index.ts';
import { Module, init, type Parameter } from './module.ts';

export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
  ) {
    super();
    for (const [k, v] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Embedding: ${k} must be a positive integer, got ${v}`);
    }
    this.weight = this.param('weight', [numEmbeddings, embeddingDim], init.normal(1));
  }

  /** Rows of the table at `indices` (any shape; float32 ids are truncated to int64). */
  forward(indices: Value): Value {
    return embedding(this.weight.value, indices);
  }
}
