/**
 * avgPool2d: mean over kh x kw windows of NCHW input (ONNX AveragePool; torch.nn.functional.avg_pool2d
 * with its defaults count_include_pad = True, ceil_mode = False): zero padding counts in the divisor,
 * so every window divides by kh kw.
 *
 * VJP: the op is a depthwise conv with the constant kernel 1 / (kh kw), so dx is its transpose — the
 * internal op `avg_pool2d_grad`: when the windows tile the input exactly (stride = kernel, no padding,
 * sizes divisible) the gradient is g / (kh kw) repeated over each window (Reshape + Expand); otherwise
 * a depthwise ConvTranspose with that kernel (output_padding restores rows the floor division dropped).
 * The gradient op's own VJP is avgPool2d again (adjoint of a linear map).
 *
 * @example
 *   const down = avgPool2d(h, 2);                              // [n, 64, 28, 28] -> [n, 64, 14, 14]
 *   const blur = avgPool2d(h, 3, { stride: 1, padding: 1 });   // same size
 */
import { apply1, registerOp, type LowerCtx } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import { convGeometry, convOutShape, geometryOf, staticDim, withShapes, type ConvGeometry } from './_conv.ts';

export interface AvgPool2dOptions {
  /** Window step: one number or [sh, sw] (default: the kernel size). */
  stride?: number | readonly [number, number];
  /** Zero padding on both sides: one number or [ph, pw], at most half the kernel (default 0). */
  padding?: number | readonly [number, number];
}

function kernelOf(attrs: Record<string, unknown>): [number, number] {
  return attrs.kernel as [number, number];
}

function poolAttrs(geo: ConvGeometry, kernel: [number, number]): Record<string, number | number[]> {
  return { kernel_shape: kernel, strides: [...geo.strides], pads: [...geo.pads], count_include_pad: 1, ceil_mode: 0 };
}

registerOp({
  name: 'avg_pool2d',
  infer([x], attrs) {
    if (x.rank !== 4) throw new Error(`input must be NCHW (rank 4), got rank ${x.rank}`);
    const geo = geometryOf(attrs);
    const [kh, kw] = kernelOf(attrs);
    const [Ho, Wo] = convOutShape(
      staticDim(x.shape[2], 'input height'),
      staticDim(x.shape[3], 'input width'),
      kh,
      kw,
      geo,
    );
    return [{ shape: [x.shape[0], x.shape[1], Ho, Wo], dtype: 'float32' }];
  },
  lower(ctx, node) {
    ctx.emit(
      'AveragePool',
      [ctx.name(node.inputs[0])],
      poolAttrs(geometryOf(node.attrs), kernelOf(node.attrs)),
      ctx.outputs(node),
    );
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    return [apply1('avg_pool2d_grad', [g], { ...node.attrs, inputSize: [x.shape[2], x.shape[3]] })];
  },
});

/** True when the windows tile the input exactly, so the gradient is a plain repeat. */
function tiles(geo: ConvGeometry, [kh, kw]: [number, number], [H, W]: [number, number]): boolean {
  return (
    geo.strides[0] === kh && geo.strides[1] === kw && geo.pads.every((p) => p === 0) && H % kh === 0 && W % kw === 0
  );
}

registerOp({
  name: 'avg_pool2d_grad',
  infer([g], attrs) {
    const [H, W] = attrs.inputSize as [number, number];
    const [kh, kw] = kernelOf(attrs);
    const [Ho, Wo] = convOutShape(H, W, kh, kw, geometryOf(attrs));
    if (g.rank !== 4 || g.shape[2] !== Ho || g.shape[3] !== Wo)
      throw new Error(`gradient [${formatShape(g.shape)}] does not match the pooled size [${Ho}, ${Wo}]`);
    return [{ shape: [g.shape[0], g.shape[1], H, W], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const g = node.inputs[0];
    const geo = geometryOf(node.attrs);
    const [kh, kw] = kernelOf(node.attrs);
    const [H, W] = node.attrs.inputSize as [number, number];
    if (tiles(geo, [kh, kw], [H, W])) lowerRepeat(ctx, g, kh, kw, ctx.outputs(node));
    else lowerConvTranspose(ctx, g, geo, [kh, kw], [H, W], ctx.outputs(node));
  },
  vjp: (node, [u]) => [
    u &&
      apply1('avg_pool2d', [u], {
        strides: node.attrs.strides,
        pads: node.attrs.pads,
        dilations: [1, 1],
        group: 1,
        kernel: node.attrs.kernel,
      }),
  ],
});

function lowerRepeat(ctx: LowerCtx, g: Value, kh: number, kw: number, out: string[]): void {
  const [Ho, Wo] = g.shape.slice(2) as number[];
  const [s] = ctx.emit('Mul', [ctx.name(g), ctx.constFloat([1 / (kh * kw)], [])]);
  const [r] = ctx.emit('Reshape', [s, ctx.constInt64([0, 0, Ho, 1, Wo, 1])]);
  // Expand broadcasts the size-1 window axes; 1 keeps the (possibly symbolic) batch and channels, 0 in Reshape too
  const [e] = ctx.emit('Expand', [r, ctx.constInt64([1, 1, 1, kh, 1, kw])]);
  ctx.emit('Reshape', [e, ctx.constInt64([0, 0, Ho * kh, Wo * kw])], {}, out);
}

function lowerConvTranspose(
  ctx: LowerCtx,
  g: Value,
  geo: ConvGeometry,
  [kh, kw]: [number, number],
  [H, W]: [number, number],
  out: string[],
): void {
  const C = staticDim(g.shape[1], 'channels of an overlapping or padded avgPool2d');
  const [Ho, Wo] = g.shape.slice(2) as number[];
  const kernel = ctx.constFloat(new Float32Array(C * kh * kw).fill(1 / (kh * kw)), [C, 1, kh, kw]);
  const outPad = [
    H - ((Ho - 1) * geo.strides[0] - geo.pads[0] - geo.pads[2] + kh),
    W - ((Wo - 1) * geo.strides[1] - geo.pads[1] - geo.pads[3] + kw),
  ];
  ctx.emit(
    'ConvTranspose',
    [ctx.name(g), kernel],
    {
      kernel_shape: [kh, kw],
      strides: [...geo.strides],
      pads: [...geo.pads],
      group: C,
      output_padding: outPad,
    },
    out,
  );
}

/**
 * Average pooling of `x` [N, C, H, W] over `kernel` (one number or [kh, kw]) windows; options as
 * torch.nn.functional.avg_pool2d (stride defaults to the kernel; count_include_pad = True).
 */
export function avgPool2d(x: Value, kernel: number | readonly [number, number], opts: AvgPool2dOptions = {}): Value {
  const k = (typeof kernel === 'number' ? [kernel, kernel] : [...kernel]) as [number, number];
  const geo = withShapes('avg_pool2d', [x], () => {
    if (k.length !== 2 || k.some((v) => !Number.isInteger(v) || v < 1))
      throw new Error(`kernel must be a positive integer or a pair of them, got ${JSON.stringify(kernel)}`);
    const geo = convGeometry('avg_pool2d', { stride: opts.stride ?? k, padding: opts.padding ?? 0 }, k);
    if (geo.pads[0] * 2 > k[0] || geo.pads[1] * 2 > k[1])
      throw new Error(
        `padding [${geo.pads[0]}, ${geo.pads[1]}] must be at most half the kernel [${k.join(', ')}] (as in PyTorch)`,
      );
    return geo;
  });
  return apply1('avg_pool2d', [x], { ...geo, kernel: k });
}
