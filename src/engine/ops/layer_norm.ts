/**
 * layerNorm: normalise over the last axes (torch.nn.functional.layer_norm; Ba, Kiros & Hinton 2016,
 * "Layer Normalization", eq. (4)):
 *   y = (x - mu) / sqrt(var + eps) * weight + bias,  mu, var = mean and biased variance over the normalised axes.
 *
 * Two formulations ('auto' = NORM_FORMULATION, chosen by fwd+bwd time in bench/engine.ts, "norm" rows
 * of BENCHMARKS.md):
 * - 'native': the internal op `layer_norm`, one ONNX LayerNormalization (opset 17) that also returns
 *   the per-row mean and 1/sigma; its VJP is written by hand from those saved statistics
 *   (xhat = (x - mu) / sigma, gh = g weight, over the M normalised elements):
 *     dx = (gh - mean(gh) - xhat mean(gh xhat)) / sigma,  dweight = sum(g xhat),  dbias = sum(g)
 *   (sums over the leading axes).
 * - 'composite': mean / square / rsqrt / mul / add ops, differentiated by our autodiff.
 * groupNorm (group_norm.ts) reuses the same op on [N, G, C/G * spatial].
 *
 * @example
 *   const h = layerNorm(tokens, [64], gamma, beta);   // tokens [n, 49, 64]
 *   const z = layerNorm(x, [3, 4]);                   // no affine, over the last two axes
 */
import { applyOp, registerOp } from '../trace.ts';
import { formatShape, type Shape, type Value } from '../graph.ts';
import { staticDim, withShapes } from './_conv.ts';
import { add } from './add.ts';
import { sumTo } from './broadcast.ts';
import { mul } from './mul.ts';
import { mean } from './reduce_mean.ts';
import { rsqrt } from './rsqrt.ts';
import { square } from './square.ts';
import { sub } from './sub.ts';

export type NormFormulation = 'auto' | 'native' | 'composite';

/** The formulation 'auto' uses for layerNorm and groupNorm (see the doc comment). */
export const NORM_FORMULATION: 'native' | 'composite' = 'native';

registerOp({
  name: 'layer_norm',
  infer(inputs, attrs) {
    const [x, scale, bias] = inputs;
    const axis = attrs.axis as number;
    if (x.dtype !== 'float32') throw new Error(`expected a float32 input, got ${x.dtype}`);
    const norm = x.shape.slice(axis);
    norm.forEach((d, i) => staticDim(d, `normalised dimension ${axis + i}`));
    for (const [v, what] of [
      [scale, 'weight'],
      [bias, 'bias'],
    ] as const) {
      if (v && (v.rank !== norm.length || v.shape.some((d, i) => d !== norm[i])))
        throw new Error(`${what} must have the normalised shape [${formatShape(norm)}], got [${formatShape(v.shape)}]`);
    }
    const stat: Shape = [...x.shape.slice(0, axis), ...norm.map(() => 1)];
    return [
      { shape: x.shape, dtype: 'float32' },
      { shape: stat, dtype: 'float32' },
      { shape: stat, dtype: 'float32' },
    ];
  },
  lower(ctx, node) {
    const [x, scale, bias] = node.inputs;
    const axis = node.attrs.axis as number;
    const norm = x.shape.slice(axis) as number[];
    const s = scale ? ctx.name(scale) : ctx.constFloat(new Float32Array(norm.reduce((a, b) => a * b, 1)).fill(1), norm);
    const ins = bias ? [ctx.name(x), s, ctx.name(bias)] : [ctx.name(x), s];
    ctx.emit(
      'LayerNormalization',
      ins,
      { axis, epsilon: { float: node.attrs.eps as number }, stash_type: 1 },
      ctx.outputs(node),
    );
  },
  vjp(node, [g, gMean, gInvStd]) {
    if (gMean || gInvStd)
      throw new Error(
        `grad: the mean / inverse-std outputs of 'layer_norm' (called at ${node.caller}) are not differentiable`,
      );
    if (!g) return node.inputs.map(() => null);
    const [x, scale, bias] = node.inputs;
    const [, mu, invStd] = node.outputs;
    const axes = [...Array(x.rank).keys()].slice(node.attrs.axis as number);
    // without an affine the op's output is xhat itself; otherwise rebuild it from the saved statistics
    const xhat = scale || bias ? mul(sub(x, mu), invStd) : node.outputs[0];
    const gh = scale ? mul(g, scale) : g;
    const dx = mul(sub(sub(gh, mean(gh, axes, true)), mul(xhat, mean(mul(gh, xhat), axes, true))), invStd);
    const out: (Value | null)[] = [dx];
    if (scale) out.push(sumTo(mul(g, xhat), scale.shape));
    if (bias) out.push(sumTo(g, bias.shape));
    return out;
  },
});

/**
 * Normalise `x` over its trailing axes starting at `axis` with the native op; optional `scale` and
 * `bias` have the normalised shape. Used by layerNorm and groupNorm.
 */
export function layerNormNative(x: Value, axis: number, eps: number, scale?: Value | null, bias?: Value | null): Value {
  const ins = [x];
  if (scale || bias) ins.push(scale ?? onesLike(bias!));
  if (bias) ins.push(bias);
  return applyOp('layer_norm', ins, { axis, eps })[0];
}

function onesLike(v: Value): Value {
  return add(mul(v, 0), 1);
}

/** The same normalisation from primitive ops (mean, square, rsqrt), differentiated by autodiff. */
export function layerNormComposite(
  x: Value,
  axis: number,
  eps: number,
  scale?: Value | null,
  bias?: Value | null,
): Value {
  const axes = [...Array(x.rank).keys()].slice(axis);
  const d = sub(x, mean(x, axes, true));
  let y = mul(d, rsqrt(add(mean(square(d), axes, true), eps)));
  if (scale) y = mul(y, scale);
  if (bias) y = add(y, bias);
  return y;
}

/**
 * Layer normalisation of `x` over its last `normalizedShape.length` axes, which must equal
 * `normalizedShape` (torch.nn.functional.layer_norm); `weight` and `bias` have that shape.
 */
export function layerNorm(
  x: Value,
  normalizedShape: number | readonly number[],
  weight?: Value | null,
  bias?: Value | null,
  eps = 1e-5,
  formulation: NormFormulation = 'auto',
): Value {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  withShapes('layer_norm', inputs, () => {
    if (ns.length === 0 || ns.length > x.rank || ns.some((d, i) => d !== x.shape[x.rank - ns.length + i])) {
      throw new Error(`normalizedShape [${ns.join(', ')}] must equal the trailing dimensions of the input`);
    }
    if (!(eps >= 0)) throw new Error(`eps must be >= 0, got ${eps}`);
    for (const [v, what] of [
      [weight, 'weight'],
      [bias, 'bias'],
    ] as const) {
      if (v && (v.rank !== ns.length || v.shape.some((d, i) => d !== ns[i])))
        throw new Error(`${what} must have shape [${ns.join(', ')}], got [${formatShape(v.shape)}]`);
    }
  });
  const f = formulation === 'auto' ? NORM_FORMULATION : formulation;
  const axis = x.rank - ns.length;
  return f === 'native' ? layerNormNative(x, axis, eps, weight, bias) : layerNormComposite(x, axis, eps, weight, bias);
}
