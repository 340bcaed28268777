/**
 * groupNorm: normalise each of `numGroups` channel groups over its channels and spatial positions,
 * then scale and shift per channel (torch.nn.functional.group_norm; Wu & He 2018, "Group
 * Normalization", eqs. (1)-(3) with the set S_i of eq. (7)):
 *   y[n, c, ...] = (x - mu[n, g(c)]) / sqrt(var[n, g(c)] + eps) * weight[c] + bias[c].
 *
 * A composite: x is reshaped to [N, G, C/G * spatial] and normalised over the last axis by the
 * layer-norm machinery of layer_norm.ts ('native': one ONNX LayerNormalization with a hand-written
 * VJP; 'composite': mean / rsqrt primitives), then reshaped back; the per-channel affine is a
 * broadcast mul and add. Gradients come from those parts.
 *
 * @example
 *   const h = groupNorm(x, 8, gamma, beta);   // x ['batch', 64, 14, 14], gamma/beta [64]
 */
import { formatShape, type Value } from '../graph.ts';
import { staticDim, withShapes } from './_conv.ts';
import { add } from './add.ts';
import { NORM_FORMULATION, layerNormComposite, layerNormNative, type NormFormulation } from './layer_norm.ts';
import { mul } from './mul.ts';
import { reshape } from './reshape.ts';

/**
 * Group normalisation of `x` [N, C, ...spatial] with `numGroups` groups (C divisible by it),
 * optional per-channel `weight` and `bias` [C], and `eps` (default 1e-5, as PyTorch).
 */
export function groupNorm(x: Value, numGroups: number, weight?: Value | null, bias?: Value | null, eps = 1e-5, formulation: NormFormulation = 'auto'): Value {
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const [C, M] = withShapes('group_norm', inputs, () => {
    if (x.rank < 2) throw new Error(`input must be [N, C, ...], got rank ${x.rank}`);
    const C = staticDim(x.shape[1], 'channels');
    if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) throw new Error(`numGroups must be a positive divisor of the ${C} channels, got ${numGroups}`);
    if (!(eps >= 0)) throw new Error(`eps must be >= 0, got ${eps}`);
    let M = C / numGroups;
    x.shape.slice(2).forEach((d, i) => { M *= staticDim(d, `spatial dimension ${i + 2}`); });
    for (const [v, what] of [[weight, 'weight'], [bias, 'bias']] as const) {
      if (v && (v.rank !== 1 || v.shape[0] !== C)) throw new Error(`${what} must have shape [${C}], got [${formatShape(v.shape)}]`);
    }
    return [C, M];
  });
  const xr = reshape(x, [x.shape[0], numGroups, M]);
  const f = formulation === 'auto' ? NORM_FORMULATION : formulation;
  let y = reshape(f === 'native' ? layerNormNative(xr, 2, eps) : layerNormComposite(xr, 2, eps), x.shape);
  const perChannel = [C, ...x.shape.slice(2).map(() => 1)];
  if (weight) y = mul(y, reshape(weight, perChannel));
  if (bias) y = add(y, reshape(bias, perChannel));
  return y;
}
