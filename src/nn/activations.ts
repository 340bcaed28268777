/**
 * Activation functions by name, as diffusers' `get_activation` (models/activations.py) accepts them:
 * 'silu' / 'swish' (x sigmoid(x), Elfwing et al. 2018), 'gelu' (exact, erf form), 'relu'.
 *
 * @example
 *   const act = getActivation('silu');
 *   const h = act(x);
 */
import { gelu, relu, silu, type Value } from '../engine/index.ts';

export type ActivationName = 'silu' | 'swish' | 'gelu' | 'relu';
export type Activation = (x: Value) => Value;

/** The SiLU activation (one function object, so layers can recognise it and fuse it, e.g. GroupNorm). */
export const SILU: Activation = (x) => silu(x);

const ACTIVATIONS: Record<ActivationName, Activation> = {
  silu: SILU,
  swish: SILU,
  gelu: (x) => gelu(x),
  relu: (x) => relu(x),
};

/** The activation called `name` (case-insensitive, like diffusers). @example getActivation('SiLU') */
export function getActivation(name: string, where = 'activation'): Activation {
  const key = String(name).toLowerCase();
  if (!Object.hasOwn(ACTIVATIONS, key)) {
    throw new Error(`${where}: unsupported activation function ${JSON.stringify(name)} (allowed: ${Object.keys(ACTIVATIONS).join(', ')})`);
  }
  return ACTIVATIONS[key as ActivationName];
}
