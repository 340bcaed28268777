/**
 * LayerNorm (torch.nn.LayerNorm; Ba, Kiros & Hinton 2016, eq. (4)) over the last axes given by
 * `normalizedShape`. Parameters `weight` (ones) and `bias` (zeros) of that shape when
 * `elementwiseAffine` (default; `bias: false` drops the bias like torch's `bias=False`).
 *
 * @example
 *   const ln = new LayerNorm(64);
 *   const y = ln.forward(tokens);                // [n, 49, 64]
 */
import { layerNorm, type Value } from '../engine/index.ts';
import { Module, init, type Parameter } from './module.ts';

export interface LayerNormOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `LayerNorm: normalizedShape must be a positive integer or a non-empty list of them, got ${JSON.stringify(normalizedShape)}`,
      );
    }
    this.eps = opts.eps ?? 1e-5;
    if (!(this.eps > 0)) throw new Error(`LayerNorm: eps must be > 0, got ${this.eps}`);
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? this.param('weight', this.normalizedShape, init.ones()) : null;
    this.bias = affine && opts.bias !== false ? this.param('bias', this.normalizedShape, init.zeros()) : null;
  }

  forward(x: Value): Value {
    return layerNorm(x, this.normalizedShape, this.weight?.value, this.bias?.value, this.eps);
  }
}
