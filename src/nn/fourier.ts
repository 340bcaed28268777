/**
 * Gaussian Fourier features of the noise level (Tancik et al. 2020; used for sigma by NCSN++, Song et al.
 * 2021, appendix H.2), as diffusers' `GaussianFourierProjection(embedding_size, scale=16, log=True)`:
 *
 *   z = log(sigma)[:, None] W[None, :] 2 pi,   emb = [sin z, cos z]   ([cos z, sin z] with flipSinToCos)
 *
 * W [embedding_size] ~ N(0, scale^2) is a fixed random projection (diffusers stores it with
 * requires_grad=False as `weight`; diffuse's trainer updates every parameter, so train such a model
 * elsewhere or expect W to move). Output width 2 * embedding_size.
 *
 * @example
 *   const proj = new GaussianFourierProjection(32, { scale: 16 });   // sigma [n] -> [n, 64]
 *   const e = proj.forward(sigma);
 */
import { concat, cos, log, mul, reshape, sin, type Value } from '../engine/index.ts';
import { Module, init, type Parameter } from './module.ts';

export interface GaussianFourierOptions {
  /** Std of W (default 1; UNet2DModel uses 16). */
  scale?: number;
  /** Take log(sigma) first (default true). */
  log?: boolean;
  flipSinToCos?: boolean;
}

export class GaussianFourierProjection extends Module {
  readonly weight: Parameter;
  readonly takeLog: boolean;
  readonly flipSinToCos: boolean;

  constructor(
    readonly embeddingSize: number,
    opts: GaussianFourierOptions = {},
  ) {
    super();
    if (!Number.isInteger(embeddingSize) || embeddingSize < 1)
      throw new Error(`GaussianFourierProjection: embeddingSize must be a positive integer, got ${embeddingSize}`);
    this.weight = this.param('weight', [embeddingSize], init.normal(opts.scale ?? 1));
    this.takeLog = opts.log ?? true;
    this.flipSinToCos = opts.flipSinToCos ?? false;
  }

  /** sigma [n] (float32) -> [n, 2 embeddingSize]. */
  forward(x: Value): Value {
    if (x.rank !== 1)
      throw new Error(`GaussianFourierProjection.forward: expected [n] noise levels, got [${x.shape.join(', ')}]`);
    const s = this.takeLog ? log(x) : x;
    // torch order: x[:, None] * W[None, :] * 2 * pi, each product rounded to float32
    const z = mul(
      mul(mul(reshape(s, [x.shape[0], 1]), reshape(this.weight.value, [1, this.embeddingSize])), 2),
      Math.PI,
    );
    const a = sin(z),
      b = cos(z);
    return this.flipSinToCos ? concat([b, a], 1) : concat([a, b], 1);
  }
}
