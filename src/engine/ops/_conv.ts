/**
 * Shared parameter handling for the 2-D convolution family (conv2d, conv2d_input_grad,
 * conv2d_weight_grad, avgPool2d): option normalisation and the output-size formula
 *   out = floor((in + padBegin + padEnd - dilation (k - 1) - 1) / stride) + 1
 * (the ONNX Conv / PyTorch Conv2d formula).
 */
import { formatShape, type Dim, type Value } from '../graph.ts';
import { ShapeError, apply1, callerSite, type LowerCtx } from '../trace.ts';

/** Convolution geometry in ONNX order: pads = [top, left, bottom, right]. */
export interface ConvGeometry {
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  group: number;
}

/** User-facing conv options (PyTorch names). */
export interface Conv2dOptions {
  /** Step of the window: one number or [sh, sw] (default 1). */
  stride?: number | readonly [number, number];
  /**
   * Zero padding: one number, [ph, pw] (both sides), [top, left, bottom, right], 'valid' (0) or
   * 'same' (stride 1 only; output size = input size, extra padding at the end like PyTorch). Default 0.
   */
  padding?: number | readonly number[] | 'valid' | 'same';
  /** Spacing of the kernel taps: one number or [dh, dw] (default 1). */
  dilation?: number | readonly [number, number];
  /** Number of channel groups (default 1; groups = channels is a depthwise conv). */
  groups?: number;
}

function pair(
  op: string,
  key: string,
  v: number | readonly number[] | undefined,
  dflt: number,
  min: number,
): [number, number] {
  const p = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [...v];
  if (p.length !== 2 || p.some((x) => !Number.isInteger(x) || x < min)) {
    throw new Error(`${op}: ${key} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** Normalise PyTorch-style options into ONNX geometry; `kernel` = [kh, kw] (for 'same'). */
export function convGeometry(op: string, opts: Conv2dOptions, kernel: readonly [number, number]): ConvGeometry {
  const strides = pair(op, 'stride', opts.stride, 1, 1);
  const dilations = pair(op, 'dilation', opts.dilation, 1, 1);
  const group = opts.groups ?? 1;
  if (!Number.isInteger(group) || group < 1)
    throw new Error(`${op}: groups must be a positive integer, got ${JSON.stringify(opts.groups)}`);
  const p = opts.padding ?? 0;
  let pads: [number, number, number, number];
  if (p === 'valid') pads = [0, 0, 0, 0];
  else if (p === 'same') {
    if (strides[0] !== 1 || strides[1] !== 1)
      throw new Error(`${op}: padding 'same' needs stride 1, got stride [${strides.join(', ')}]`);
    // total padding d (k - 1), the odd one at the end (as torch.nn.functional.conv2d does)
    const th = dilations[0] * (kernel[0] - 1),
      tw = dilations[1] * (kernel[1] - 1);
    pads = [th >> 1, tw >> 1, th - (th >> 1), tw - (tw >> 1)];
  } else if (typeof p === 'number' || (Array.isArray(p) && p.length === 2)) {
    const [ph, pw] = pair(op, 'padding', p as number | [number, number], 0, 0);
    pads = [ph, pw, ph, pw];
  } else if (Array.isArray(p) && p.length === 4 && p.every((x) => Number.isInteger(x) && x >= 0)) {
    pads = [p[0], p[1], p[2], p[3]];
  } else {
    throw new Error(
      `${op}: padding must be an integer >= 0, [ph, pw], [top, left, bottom, right], 'valid' or 'same', got ${JSON.stringify(p)}`,
    );
  }
  return { strides, pads, dilations, group };
}

/** Output length of one spatial axis; throws when the window does not fit. */
export function convOutSize(
  inSize: number,
  k: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation: number,
  axisName: string,
): number {
  const span = dilation * (k - 1) + 1;
  const avail = inSize + padBegin + padEnd;
  if (avail < span)
    throw new Error(`the kernel (extent ${span} along ${axisName}) is larger than the padded input (${avail})`);
  return Math.floor((avail - span) / stride) + 1;
}

/** Both output spatial sizes for an input [.., H, W] and kernel [kh, kw]. */
export function convOutShape(h: number, w: number, kh: number, kw: number, geo: ConvGeometry): [number, number] {
  return [
    convOutSize(h, kh, geo.strides[0], geo.pads[0], geo.pads[2], geo.dilations[0], 'height'),
    convOutSize(w, kw, geo.strides[1], geo.pads[1], geo.pads[3], geo.dilations[1], 'width'),
  ];
}

/** Require a static dimension (channels, spatial sizes, kernel). */
export function staticDim(d: Dim, what: string): number {
  if (typeof d !== 'number') throw new Error(`${what} must be static, got symbolic '${d}'`);
  return d;
}

/** ONNX Conv/ConvTranspose attributes from the geometry. */
export function onnxConvAttrs(geo: ConvGeometry, kernel: readonly number[]): Record<string, number | number[]> {
  return {
    kernel_shape: [...kernel],
    strides: [...geo.strides],
    pads: [...geo.pads],
    dilations: [...geo.dilations],
    group: geo.group,
  };
}

/** The geometry stored in a node's attrs. */
export function geometryOf(attrs: Record<string, unknown>): ConvGeometry {
  return {
    strides: attrs.strides as [number, number],
    pads: attrs.pads as [number, number, number, number],
    dilations: attrs.dilations as [number, number],
    group: attrs.group as number,
  };
}

/** Rethrow an option error with the op name, the input shapes and the caller (like applyOp does). */
export function withShapes<T>(op: string, inputs: readonly Value[], f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message.replace(new RegExp(`^${op}: `), '');
    const shapes = inputs.map((v) => `[${formatShape(v.shape)}]`).join(' and ');
    throw new ShapeError(`${op}: ${msg} (input shapes ${shapes}; called at ${callerSite()})`);
  }
}

/** The registered 'conv2d' op with explicit geometry (for the gradient ops' VJPs, without importing conv2d.ts). */
export function convForward(x: Value, w: Value, geo: ConvGeometry): Value {
  return apply1('conv2d', [x, w], { ...geo });
}

/** ONNX Runtime's operator set of the CPU NCHWc kernels (contrib ops; internal, but registered in every CPU build). */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * Emit a 2-D convolution of `x` [N, C, H, W] (ONNX name) with the weight `w` [Co, C / group, kh, kw]
 * and optional bias `b` [Co] into `outputs`.
 *
 * Where the target has ONNX Runtime's NCHWc kernels (ctx.target.nchwcBlock = B > 0) and the weight is
 * computed at run time (`weightIsConstant` false: a graph input such as a trained parameter, or
 * derived from one), the conv becomes ReorderInput -> com.microsoft.nchwc Conv -> ReorderOutput with
 * the weight reordered in the graph by Reshape/Transpose into the kernel's blocked layout
 *   OIHWBiBo: w'[o / B, c / B, kh, kw, c % B, o % B] = w[o, c, kh, kw]   (C a multiple of B)
 *   OIHWBo:   w'[o / B, c, kh, kw, o % B]            = w[o, c, kh, kw]   (C < B: the input stays NCHW)
 * and then viewed as [Co, C, kh, kw] again. ONNX Runtime's own NCHWc transformer does this only for
 * constant weights; with weights as inputs its plain Conv (im2col + GEMM) ran at 53-69 GFLOP/s against
 * 70-84 GFLOP/s for this path on the unet-s shapes (1 thread, bench/nchwc_explore.ts), so a training
 * step gets the faster kernel too. Otherwise (group > 1, Co not a multiple of B, a portable export,
 * constant weights) a standard ONNX Conv.
 */
export function emitConv(
  ctx: LowerCtx,
  x: string,
  w: string,
  b: string | undefined,
  geo: ConvGeometry,
  dims: { C: number; Co: number; kh: number; kw: number },
  outputs: string[],
  weightIsConstant: boolean,
): void {
  const B = ctx.target.nchwcBlock;
  const { C, Co, kh, kw } = dims;
  const attrs = onnxConvAttrs(geo, [kh, kw]);
  if (!(B > 0) || weightIsConstant || geo.group !== 1 || Co % B !== 0 || !(C % B === 0 || C < B)) {
    ctx.emit('Conv', b ? [x, w, b] : [x, w], attrs, outputs);
    return;
  }
  const K = kh * kw;
  let wr: string;
  if (C % B === 0) {
    const [r] = ctx.emit('Reshape', [w, ctx.constInt64([Co / B, B, C / B, B, K])]);
    [wr] = ctx.emit('Transpose', [r], { perm: [0, 2, 4, 3, 1] });
  } else {
    const [r] = ctx.emit('Reshape', [w, ctx.constInt64([Co / B, B, C * K])]);
    [wr] = ctx.emit('Transpose', [r], { perm: [0, 2, 1] });
  }
  const [wb] = ctx.emit('Reshape', [wr, ctx.constInt64([Co, C, kh, kw])]);
  const [xb] = C % B === 0 ? ctx.emit('ReorderInput', [x], {}, 1, NCHWC_DOMAIN) : [x];
  const [yb] = ctx.emit('Conv', b ? [xb, wb, b] : [xb, wb], attrs, 1, NCHWC_DOMAIN);
  ctx.emit('ReorderOutput', [yb], { channels: Co }, outputs, NCHWC_DOMAIN);
}

/** Whether `v` is fixed when the model is built: a constant, or computed from constants only. */
export function isConstantValue(v: Value): boolean {
  const seen = new Set<Value>();
  const stack = [v];
  while (stack.length) {
    const u = stack.pop()!;
    if (seen.has(u)) continue;
    seen.add(u);
    if (!u.producer) return false; // a graph input
    stack.push(...u.producer.inputs);
  }
  return true;
}
