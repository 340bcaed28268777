/**
 * conv2d_input_grad: the gradient of conv2d with respect to its input, dx = A_w^T g, where A_w is
 * the linear map x -> conv2d(x, w). Internal op used by conv2d's VJP; it has its own lowering so the
 * formulation can be chosen per shape:
 *
 * - 'flipped_conv' (stride 1 and every pad <= d (k - 1)): a plain Conv of g with the kernel flipped in
 *   both spatial axes and its in/out channels swapped within each group, padded by d (k - 1) - pad.
 *   This is the transposed convolution written as a correlation; measured 19 ms for 3x3, 32x64x32x32
 *   against 25 ms for ConvTranspose on the 2-core box (ARCHITECTURE.md section 1).
 * - 'conv_transpose' (everything else: strides > 1, pads larger than the kernel extent): ONNX
 *   ConvTranspose with the same kernel and geometry and output_padding = the rows/columns that the
 *   forward conv's floor division dropped, so the output has exactly the input's size.
 *
 * VJP (the op is bilinear in g and w): for a cotangent u of dx, <u, A_w^T g> = <A_w u, g>, so
 * d/dg = conv2d(u, w) and d/dw = conv2d_weight_grad(g, u).
 *
 * @example
 *   const dx = conv2dInputGrad(g, w, [32, 32], geometry);   // g [n, Co, Ho, Wo] -> [n, C, 32, 32]
 */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import {
  convForward,
  convOutShape,
  emitConv,
  geometryOf,
  isConstantValue,
  onnxConvAttrs,
  staticDim,
  type ConvGeometry,
} from './_conv.ts';
import { conv2dWeightGrad } from './conv2d_weight_grad.ts';

export type InputGradFormulation = 'auto' | 'flipped_conv' | 'conv_transpose';

/**
 * The formulation 'auto' picks: 'flipped_conv' when it applies (stride 1, pads within the kernel
 * extent, so the flipped conv needs no negative padding), else 'conv_transpose'.
 */
export function chooseInputGradFormulation(
  geo: ConvGeometry,
  kernel: readonly [number, number],
): 'flipped_conv' | 'conv_transpose' {
  const ext = [geo.dilations[0] * (kernel[0] - 1), geo.dilations[1] * (kernel[1] - 1)];
  const fits = geo.pads[0] <= ext[0] && geo.pads[2] <= ext[0] && geo.pads[1] <= ext[1] && geo.pads[3] <= ext[1];
  return geo.strides[0] === 1 && geo.strides[1] === 1 && fits ? 'flipped_conv' : 'conv_transpose';
}

registerOp({
  name: 'conv2d_input_grad',
  infer([g, w], attrs) {
    const geo = geometryOf(attrs);
    const [H, W] = attrs.inputSize as [number, number];
    if (g.rank !== 4 || w.rank !== 4)
      throw new Error(`gradient and weight must have rank 4, got ranks ${g.rank} and ${w.rank}`);
    const [Co, Cig, kh, kw] = w.shape.map((d, i) => staticDim(d, `weight dimension ${i}`));
    if (g.shape[1] !== Co)
      throw new Error(`gradient has ${String(g.shape[1])} channels, the weight has ${Co} output channels`);
    if (Co % geo.group !== 0) throw new Error(`output channels ${Co} are not divisible by groups ${geo.group}`);
    const [Ho, Wo] = convOutShape(H, W, kh, kw, geo);
    if (g.shape[2] !== Ho || g.shape[3] !== Wo)
      throw new Error(
        `gradient spatial size [${formatShape(g.shape.slice(2))}] differs from the conv output size [${Ho}, ${Wo}] for input size [${H}, ${W}]`,
      );
    const f = attrs.formulation as InputGradFormulation;
    if (f === 'flipped_conv' && chooseInputGradFormulation(geo, [kh, kw]) !== 'flipped_conv') {
      throw new Error(
        `formulation 'flipped_conv' needs stride 1 and pads <= dilation (kernel - 1); use 'auto' or 'conv_transpose'`,
      );
    }
    return [{ shape: [g.shape[0], Cig * geo.group, H, W], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [g, w] = node.inputs;
    const geo = geometryOf(node.attrs);
    const [H, W] = node.attrs.inputSize as [number, number];
    const [Co, Cig, kh, kw] = w.shape as number[];
    const G = geo.group;
    const f = node.attrs.formulation as InputGradFormulation;
    const form = f === 'auto' ? chooseInputGradFormulation(geo, [kh, kw]) : f;
    if (form === 'flipped_conv') {
      // w[o, c, p, q] -> wt[c, o, kh-1-p, kw-1-q] (per group)
      const [wf] = ctx.emit('Slice', [
        ctx.name(w),
        ctx.constInt64([-1, -1]),
        ctx.constInt64([-kh - 1, -kw - 1]),
        ctx.constInt64([2, 3]),
        ctx.constInt64([-1, -1]),
      ]);
      let wt: string;
      if (G === 1) [wt] = ctx.emit('Transpose', [wf], { perm: [1, 0, 2, 3] });
      else {
        const [r] = ctx.emit('Reshape', [wf, ctx.constInt64([G, Co / G, Cig, kh, kw])]);
        const [t] = ctx.emit('Transpose', [r], { perm: [0, 2, 1, 3, 4] });
        [wt] = ctx.emit('Reshape', [t, ctx.constInt64([G * Cig, Co / G, kh, kw])]);
      }
      const eh = geo.dilations[0] * (kh - 1),
        ew = geo.dilations[1] * (kw - 1);
      const flipped: ConvGeometry = {
        strides: [1, 1],
        dilations: geo.dilations,
        group: G,
        pads: [eh - geo.pads[0], ew - geo.pads[1], eh - geo.pads[2], ew - geo.pads[3]],
      };
      emitConv(
        ctx,
        ctx.name(g),
        wt,
        undefined,
        flipped,
        { C: Co, Co: G * Cig, kh, kw },
        ctx.outputs(node),
        isConstantValue(w),
      );
    } else {
      // ConvTranspose output = (Ho - 1) s - padBegin - padEnd + d (k - 1) + 1 + output_padding
      const Ho = g.shape[2] as number,
        Wo = g.shape[3] as number;
      const outPad = [
        H - ((Ho - 1) * geo.strides[0] - geo.pads[0] - geo.pads[2] + geo.dilations[0] * (kh - 1) + 1),
        W - ((Wo - 1) * geo.strides[1] - geo.pads[1] - geo.pads[3] + geo.dilations[1] * (kw - 1) + 1),
      ];
      ctx.emit(
        'ConvTranspose',
        [ctx.name(g), ctx.name(w)],
        { ...onnxConvAttrs(geo, [kh, kw]), output_padding: outPad },
        ctx.outputs(node),
      );
    }
  },
  vjp(node, [u]) {
    if (!u) return [null, null];
    const [g, w] = node.inputs;
    const geo = geometryOf(node.attrs);
    return [convForward(u, w, geo), conv2dWeightGrad(g, u, [w.shape[2] as number, w.shape[3] as number], geo)];
  },
});

/**
 * dx of conv2d: `g` is the output gradient [N, Co, Ho, Wo], `w` the weight [Co, C / groups, kh, kw],
 * `inputSize` = [H, W] of the conv's input (needed when a stride dropped rows). `formulation`
 * overrides the per-shape choice (for benchmarks); 'auto' is the documented rule above.
 */
export function conv2dInputGrad(
  g: Value,
  w: Value,
  inputSize: readonly [number, number],
  geo: ConvGeometry,
  formulation: InputGradFormulation = 'auto',
): Value {
  return apply1('conv2d_input_grad', [g, w], { ...geo, inputSize: [...inputSize], formulation });
}
