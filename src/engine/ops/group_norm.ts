/**
 * groupNorm: normalise each of `numGroups` channel groups over its channels and spatial positions,
 * then scale and shift per channel (torch.nn.functional.group_norm; Wu & He 2018, "Group
 * Normalization", eqs. (1)-(3) with the set S_i of eq. (7)):
 *   y[n, c, ...] = (x - mu[n, g(c)]) / sqrt(var[n, g(c)] + eps) * weight[c] + bias[c];
 * groupNormSilu is silu(groupNorm(...)) as one op (the norm -> activation pair of every UNet block).
 *
 * Two formulations ('auto' = NORM_FORMULATION of layer_norm.ts):
 * - 'native': the op `group_norm` — one ONNX LayerNormalization on x viewed as [N, G, C/G * spatial]
 *   (returning x̂ and 1/sigma per group), the per-channel affine and the optional SiLU — with a VJP
 *   written by hand from the saved x̂ and 1/sigma. With z = x̂ weight + bias, g_z the gradient at z
 *   (for SiLU, g_z = g (s + y (1 - s)) with s = sigmoid(z), y = z s) and per-(n, c) sums over the
 *   spatial positions S1 = sum(g_z), S2 = sum(g_z x̂):
 *     dbias = sum_n S1,  dweight = sum_n S2,
 *     m1[n, grp] = sum_{c in grp} weight[c] S1[n, c] / M,  m2 likewise with S2  (M = C/G * spatial),
 *     dx = (1/sigma) weight[c] g_z - (1/sigma) m2 x̂ - (1/sigma) m1
 *   i.e. dx = (g_z weight - mean(g_z weight) - x̂ mean(g_z weight x̂)) / sigma, the layer-norm VJP,
 *   with every full-size pass but five (g_z x̂, two spatial sums, dx's two per-(n, c) affines and their
 *   sum) moved onto [N, C] statistics. z and s are recomputed from x̂ in the backward pass, not kept.
 *   The per-channel affines run as one pass each (channel_affine.ts: BatchNormalization with mean 0,
 *   variance 1, epsilon 0), in the forward pass too.
 * - 'composite': layer-norm primitives (mean / rsqrt) + broadcast mul/add (+ silu), differentiated
 *   by autodiff.
 *
 * @example
 *   const h = groupNorm(x, 8, gamma, beta);       // x ['batch', 64, 14, 14], gamma/beta [64]
 *   const a = groupNormSilu(x, 8, gamma, beta);   // = silu(groupNorm(x, 8, gamma, beta))
 */
import { formatShape, type Value } from '../graph.ts';
import { applyOp, registerOp } from '../trace.ts';
import { staticDim, withShapes } from './_conv.ts';
import { add } from './add.ts';
import { broadcastTo } from './broadcast.ts';
import { channelAffine, emitPerChannelAffine } from './channel_affine.ts';
import { NORM_FORMULATION, layerNormComposite, type NormFormulation } from './layer_norm.ts';
import { mul } from './mul.ts';
import { neg } from './neg.ts';
import { sum } from './reduce_sum.ts';
import { reshape } from './reshape.ts';
import { sigmoid } from './sigmoid.ts';
import { silu } from './silu.ts';
import { sub } from './sub.ts';

type Activation = 'none' | 'silu';

registerOp({
  name: 'group_norm',
  infer(inputs, attrs) {
    const [x] = inputs;
    if (x.dtype !== 'float32') throw new Error(`expected a float32 input, got ${x.dtype}`);
    const G = attrs.numGroups as number;
    return [
      { shape: x.shape, dtype: 'float32' }, // y
      { shape: x.shape, dtype: 'float32' }, // x̂ (before the affine)
      { shape: [x.shape[0], G, 1], dtype: 'float32' }, // 1 / sigma per (n, group)
    ];
  },
  lower(ctx, node) {
    const [x] = node.inputs;
    const {
      numGroups: G,
      eps,
      activation,
      hasWeight,
      hasBias,
    } = node.attrs as { numGroups: number; eps: number; activation: Activation; hasWeight: boolean; hasBias: boolean };
    const weight = hasWeight ? node.inputs[1] : undefined;
    const bias = hasBias ? node.inputs[hasWeight ? 2 : 1] : undefined;
    const [yName, xhatName, invStdName] = ctx.outputs(node);
    const C = x.shape[1] as number;
    const spatial = x.shape.slice(2) as number[];
    const M = (C / G) * spatial.reduce((a, b) => a * b, 1);
    // Reshape's 0 copies the (possibly symbolic) batch dimension
    const [xr] = ctx.emit('Reshape', [ctx.name(x), ctx.constInt64([0, G, M])]);
    const ones = ctx.constFloat(new Float32Array(M).fill(1), [M]);
    const [xhr] = ctx.emit('LayerNormalization', [xr, ones], { axis: 2, epsilon: { float: eps }, stash_type: 1 }, [
      `${xhatName}_r`,
      `${xhatName}_mean`,
      invStdName,
    ]);
    ctx.emit('Reshape', [xhr, ctx.constInt64([0, C, ...spatial])], {}, [xhatName]);
    // the affine in one pass (channel_affine.ts)
    const z =
      weight || bias
        ? emitPerChannelAffine(ctx, xhatName, C, weight && ctx.name(weight), bias && ctx.name(bias))
        : xhatName;
    if (activation === 'silu') ctx.emit('Mul', [z, ctx.emit('Sigmoid', [z])[0]], {}, [yName]);
    else ctx.emit('Identity', [z], {}, [yName]);
  },
  vjp(node, [g, gXhat, gInvStd]) {
    if (gXhat || gInvStd)
      throw new Error(
        `grad: the normalised-value and inverse-std outputs of 'group_norm' (called at ${node.caller}) are internal and not differentiable`,
      );
    const {
      numGroups: G,
      activation,
      hasWeight,
      hasBias,
    } = node.attrs as { numGroups: number; activation: Activation; hasWeight: boolean; hasBias: boolean };
    if (!g) return node.inputs.map(() => null);
    const [x] = node.inputs;
    const weight = hasWeight ? node.inputs[1] : undefined;
    const bias = hasBias ? node.inputs[hasWeight ? 2 : 1] : undefined;
    const [y, xhat, invStd] = node.outputs;
    const N = x.shape[0];
    const C = x.shape[1] as number;
    const spatialAxes = [...Array(x.rank).keys()].slice(2);
    const M = (C / G) * (x.shape.slice(2) as number[]).reduce((a, b) => a * b, 1);
    let gz = g;
    if (activation === 'silu') {
      const z = weight
        ? channelAffine(xhat, weight, bias)
        : bias
          ? add(xhat, reshape(bias, [C, ...spatialAxes.map(() => 1)]))
          : xhat;
      const s = sigmoid(z);
      gz = mul(g, add(s, mul(y, sub(1, s)))); // silu'(z) = s + z s (1 - s) = s + y (1 - s)
    }
    const S1 = sum(gz, spatialAxes); // [N, C]
    const S2 = sum(mul(gz, xhat), spatialAxes); // [N, C]
    const perGroup = (s: Value): Value => sum(reshape(weight ? mul(s, weight) : s, [N, G, C / G]), [2], true); // [N, G, 1]
    const m1 = mul(perGroup(S1), 1 / M),
      m2 = mul(perGroup(S2), 1 / M);
    // per-(n, c) coefficients of dx = a g_z + (b x̂ + c), each product one pass (channelAffine)
    const toChannels = (v: Value): Value => reshape(v.shape[2] === 1 ? broadcastTo(v, [N, G, C / G]) : v, [N, C]);
    const a = toChannels(weight ? mul(invStd, reshape(weight, [G, C / G])) : invStd);
    const b = toChannels(neg(mul(invStd, m2)));
    const c = toChannels(neg(mul(invStd, m1)));
    const dx = add(channelAffine(gz, a), channelAffine(xhat, b, c));
    const out: (Value | null)[] = [dx];
    if (weight) out.push(sum(S2, [0]));
    if (bias) out.push(sum(S1, [0]));
    return out;
  },
});

function checkGroupNorm(
  x: Value,
  numGroups: number,
  weight: Value | null | undefined,
  bias: Value | null | undefined,
  eps: number,
): number {
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return withShapes('group_norm', inputs, () => {
    if (x.rank < 2) throw new Error(`input must be [N, C, ...], got rank ${x.rank}`);
    const C = staticDim(x.shape[1], 'channels');
    if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0)
      throw new Error(`numGroups must be a positive divisor of the ${C} channels, got ${numGroups}`);
    if (!(eps >= 0)) throw new Error(`eps must be >= 0, got ${eps}`);
    let M = C / numGroups;
    x.shape.slice(2).forEach((d, i) => {
      M *= staticDim(d, `spatial dimension ${i + 2}`);
    });
    for (const [v, what] of [
      [weight, 'weight'],
      [bias, 'bias'],
    ] as const) {
      if (v && (v.rank !== 1 || v.shape[0] !== C))
        throw new Error(`${what} must have shape [${C}], got [${formatShape(v.shape)}]`);
    }
    return M;
  });
}

function groupNormWith(
  x: Value,
  numGroups: number,
  weight: Value | null | undefined,
  bias: Value | null | undefined,
  eps: number,
  formulation: NormFormulation,
  activation: Activation,
): Value {
  const M = checkGroupNorm(x, numGroups, weight, bias, eps);
  const f = formulation === 'auto' ? NORM_FORMULATION : formulation;
  if (f === 'native') {
    const ins = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    return applyOp('group_norm', ins, { numGroups, eps, activation, hasWeight: !!weight, hasBias: !!bias })[0];
  }
  const C = x.shape[1] as number;
  let y = reshape(layerNormComposite(reshape(x, [x.shape[0], numGroups, M]), 2, eps), x.shape);
  const perChannel = [C, ...x.shape.slice(2).map(() => 1)];
  if (weight) y = mul(y, reshape(weight, perChannel));
  if (bias) y = add(y, reshape(bias, perChannel));
  return activation === 'silu' ? silu(y) : y;
}

/**
 * Group normalisation of `x` [N, C, ...spatial] with `numGroups` groups (C divisible by it),
 * optional per-channel `weight` and `bias` [C], and `eps` (default 1e-5, as PyTorch).
 */
export function groupNorm(
  x: Value,
  numGroups: number,
  weight?: Value | null,
  bias?: Value | null,
  eps = 1e-5,
  formulation: NormFormulation = 'auto',
): Value {
  return groupNormWith(x, numGroups, weight, bias, eps, formulation, 'none');
}

/** silu(groupNorm(x, numGroups, weight, bias, eps)) as one op (see the file comment). */
export function groupNormSilu(
  x: Value,
  numGroups: number,
  weight?: Value | null,
  bias?: Value | null,
  eps = 1e-5,
  formulation: NormFormulation = 'auto',
): Value {
  return groupNormWith(x, numGroups, weight, bias, eps, formulation, 'silu');
}
