/**
 * Dropout placeholder (torch.nn.Dropout): only p = 0 (the identity) is supported, because a
 * dropout mask needs a random generator threaded through the trace, which the models here do not
 * use (diffusers' UNet2DModel defaults to dropout 0). A p > 0 is rejected when the layer is built.
 *
 * @example const drop = new Dropout(0); const y = drop.forward(x); // y === x
 */
import type { Value } from '../engine/index.ts';
import { Module } from './module.ts';

export class Dropout extends Module {
  constructor(readonly p = 0, where = 'Dropout') {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`${where}: dropout probability must be in [0, 1), got ${JSON.stringify(p)}`);
    if (p !== 0) throw new Error(`${where}: dropout = ${p} is not supported (only 0: dropout needs a random generator inside the traced graph, which diffuse's models do not take yet)`);
  }

  forward(x: Value): Value {
    return x;
  }
}
