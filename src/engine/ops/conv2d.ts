/**
 * conv2d: 2-D cross-correlation over NCHW input (ONNX Conv; PyTorch's torch.nn.functional.conv2d):
 *   y[n, o, i, j] = b[o] + sum_{c, p, q} x[n, g(o) Cig + c, i s_h + p d_h - pad_t, j s_w + q d_w - pad_l] w[o, c, p, q]
 * with zero padding, Cig = C / groups input channels per group and g(o) the group of output channel o.
 *
 * VJP: dx = conv2d_input_grad(g, w) (the adjoint of the conv in x), dW = conv2d_weight_grad(g, x)
 * (the adjoint in w), db = sum of g over batch and space. The two gradients are separate ops, each
 * choosing its own ONNX formulation per shape (see conv2d_input_grad.ts and conv2d_weight_grad.ts).
 *
 * Channel and spatial dimensions must be static; the batch dimension may be symbolic.
 *
 * @example
 *   const y = conv2d(x, w, b, { padding: 1 });              // x [n, 64, 32, 32], w [64, 64, 3, 3]
 *   const d = conv2d(x, wd, undefined, { stride: 2, groups: 64 }); // depthwise, stride 2
 */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import {
  convGeometry,
  convOutShape,
  emitConv,
  geometryOf,
  isConstantValue,
  staticDim,
  withShapes,
  type Conv2dOptions,
} from './_conv.ts';
import { conv2dInputGrad } from './conv2d_input_grad.ts';
import { conv2dWeightGrad } from './conv2d_weight_grad.ts';
import { sum } from './reduce_sum.ts';

export { convGeometry, type Conv2dOptions, type ConvGeometry } from './_conv.ts';

/** Shape checks shared by conv2d and its gradient ops: returns [N, C, H, W, Co, kh, kw]. */
function checkConvOperands(
  x: Value,
  w: Value,
  group: number,
): [Value['shape'][number], number, number, number, number, number, number] {
  if (x.rank !== 4) throw new Error(`input must be NCHW (rank 4), got rank ${x.rank}`);
  if (w.rank !== 4)
    throw new Error(`weight must be [out_channels, in_channels / groups, kh, kw] (rank 4), got rank ${w.rank}`);
  if (x.dtype !== 'float32' || w.dtype !== 'float32')
    throw new Error(`input and weight must be float32, got ${x.dtype} and ${w.dtype}`);
  const C = staticDim(x.shape[1], 'input channels'),
    H = staticDim(x.shape[2], 'input height'),
    W = staticDim(x.shape[3], 'input width');
  const [Co, Cig, kh, kw] = w.shape.map((d, i) => staticDim(d, `weight dimension ${i}`));
  if (C % group !== 0) throw new Error(`input channels ${C} are not divisible by groups ${group}`);
  if (Co % group !== 0) throw new Error(`output channels ${Co} are not divisible by groups ${group}`);
  if (Cig !== C / group)
    throw new Error(
      `weight expects ${Cig} input channels per group, the input has ${C} channels in ${group} group(s) (${C / group} per group)`,
    );
  return [x.shape[0], C, H, W, Co, kh, kw];
}

registerOp({
  name: 'conv2d',
  infer(inputs, attrs) {
    const [x, w, b] = inputs;
    const geo = geometryOf(attrs);
    const [N, , H, W, Co, kh, kw] = checkConvOperands(x, w, geo.group);
    if (b && (b.rank !== 1 || b.shape[0] !== Co))
      throw new Error(`bias must have shape [${Co}], got [${formatShape(b.shape)}]`);
    const [Ho, Wo] = convOutShape(H, W, kh, kw, geo);
    return [{ shape: [N, Co, Ho, Wo], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [x, w, b] = node.inputs;
    const [Co, , kh, kw] = w.shape as number[];
    emitConv(
      ctx,
      ctx.name(x),
      ctx.name(w),
      b ? ctx.name(b) : undefined,
      geometryOf(node.attrs),
      { C: x.shape[1] as number, Co, kh, kw },
      ctx.outputs(node),
      isConstantValue(w),
    );
  },
  vjp(node, [g]) {
    if (!g) return node.inputs.map(() => null);
    const [x, w, b] = node.inputs;
    const geo = geometryOf(node.attrs);
    const dx = conv2dInputGrad(g, w, [x.shape[2] as number, x.shape[3] as number], geo);
    const dw = conv2dWeightGrad(g, x, [w.shape[2] as number, w.shape[3] as number], geo);
    return b ? [dx, dw, sum(g, [0, 2, 3])] : [dx, dw];
  },
});

/**
 * 2-D convolution of `x` [N, C, H, W] with `weight` [Co, C / groups, kh, kw] (PyTorch layout) and an
 * optional `bias` [Co]; options as torch.nn.functional.conv2d (stride, padding, dilation, groups).
 */
export function conv2d(x: Value, weight: Value, bias?: Value | null, opts: Conv2dOptions = {}): Value {
  const kernel: [number, number] = [Number(weight.shape[2]), Number(weight.shape[3])];
  const geo = withShapes('conv2d', [x, weight], () => convGeometry('conv2d', opts, kernel));
  return apply1('conv2d', bias ? [x, weight, bias] : [x, weight], { ...geo });
}
