/**
 * Activation functions by name, as diffusers' `get_activation` (models/activations.py) accepts them:
 * 'silu' / 'swish' (x sigmoid(x), Elfwing et al. 2018), 'mish' (x tanh(softplus(x)), Misra 2019; softplus
 * is x above 20 like torch's), 'gelu' (exact, erf form), 'relu'.
 *
 * @example
 *   const act = getActivation('silu');
 *   const h = act(x);
 */
import { add, clip, exp, gelu, greater, log, mul, relu, silu, tanh, where, type Value } from '../engine/index.ts';

export type ActivationName = 'silu' | 'swish' | 'mish' | 'gelu' | 'relu';
export type Activation = (x: Value) => Value;

/** The SiLU activation (one function object, so layers can recognise it and fuse it, e.g. GroupNorm). */
export const SILU: Activation = (x) => silu(x);

const ACTIVATIONS: Record<ActivationName, Activation> = {
  silu: SILU,
  swish: SILU,
  mish: (x) => mul(x, tanh(where(greater(x, 20), x, log(add(exp(clip(x, undefined, 20)), 1))))),
  gelu: (x) => gelu(x),
  relu: (x) => relu(x),
};

/** The activation called `name` (case-insensitive, like diffusers). @example getActivation('SiLU') */
export function getActivation(name: string, where = 'activation'): Activation {
  const key = String(name).toLowerCase();
  if (!Object.hasOwn(ACTIVATIONS, key)) {
    throw new Error(
      `${where}: unsupported activation function ${JSON.stringify(name)} (allowed: ${Object.keys(ACTIVATIONS).join(', ')})`,
    );
  }
  return ACTIVATIONS[key as ActivationName];
}
