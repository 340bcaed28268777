/**
 * conv2d_weight_grad: the gradient of conv2d with respect to its weight,
 *   dW[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] xpad[n, g(o) Cig + c, i s_h + p d_h, j s_w + q d_w].
 * Internal op used by conv2d's VJP, with its own lowering so the formulation can be chosen per shape
 * (timings in BENCHMARKS.md: the "conv 3x3 dW" rows of the engine suite — stride 1 and 2, a 1-channel
 * first layer — and the conv-explore suite; 'im2col' was fastest in every shape class measured):
 *
 * - 'im2col': the patches of x are gathered by one depthwise Conv with one-hot kernels
 *   (group = C, kernel [C kh kw, 1, kh, kw] with E[c kh kw + t, 0, p, q] = [t = p kw + q]), which
 *   honours every stride/padding/dilation, giving col [N, C kh kw, Ho Wo]; then one batched MatMul
 *   col @ g^T per sample ([C kh kw, Ho Wo] x [Ho Wo, Co], the orientation MLAS runs fastest) and a
 *   ReduceSum over the batch. A 1x1 kernel with stride 1 and no padding uses x itself as col.
 * - 'shifted': one strided Slice of the padded input per kernel tap, each multiplied with g^T
 *   (kh kw MatMuls); same arithmetic, but only one tap's copy of x is alive at a time. At stride 1
 *   with Co <= C the output gradient is shifted instead (fewer channels to copy: 1.38x for the
 *   96 -> 32-channel 28x28 conv, 1.14x for 128 -> 64 at 14x14, ~1.02x at equal channels; 1 thread,
 *   bench/dw_gemm_explore.ts), and the tap that lines the two up uses the tensor itself, no Slice.
 * - 'valid_conv' (groups = 1 only; for comparison): dW^T as one big Conv of x^T [C, N, H, W] with
 *   kernel g^T [Co, N, Ho, Wo] (kernel dilation = stride, conv stride = dilation).
 *
 * Rule ('auto'): 'shifted' at stride 1 (kernels larger than 1x1, at least PER_TAP_MIN_CHANNELS = 16
 * input channels) and wherever im2col's patch matrix would exceed IM2COL_MAX_BYTES (batch size taken
 * as 64 when symbolic); else 'im2col' (strided convs, 1x1 kernels, few channels). Measured on the
 * unet-s train step b64 at 1 thread: with the g-shifting per-tap form, per-tap at every stride-1
 * conv is 1.03x faster than im2col for the 14x14 / 7x7 ones (bench/ab.ts), and all convs per-tap
 * (strided too) was no faster (lever dw-limit). The 32 MiB limit keeps the 28x28 convs' 58-173 MB
 * patch matrices out of memory at any stride (peak RSS -280 MiB at equal speed when it was chosen;
 * levers train-memory-time and dw-limit).
 *
 * VJP (bilinear in g and x): for a cotangent V of dW, <V, dW> = <conv2d(x, V), g>, so
 * d/dg = conv2d(x, V) and d/dx = conv2d_input_grad(g, V).
 *
 * @example
 *   const dW = conv2dWeightGrad(g, x, [3, 3], geometry);   // [Co, C / groups, 3, 3]
 */
import { apply1, registerOp, type LowerCtx } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import { convForward, convOutShape, geometryOf, onnxConvAttrs, staticDim, type ConvGeometry } from './_conv.ts';
import { conv2dInputGrad } from './conv2d_input_grad.ts';

export type WeightGradFormulation = 'auto' | 'im2col' | 'shifted' | 'valid_conv';

/** Largest im2col patch matrix 'auto' builds (bytes); above it the per-tap 'shifted' form is used. */
export const IM2COL_MAX_BYTES = 32 * 2 ** 20;

let im2colMaxBytes = IM2COL_MAX_BYTES;

/**
 * Change the im2col limit of the 'auto' rule for graphs lowered (compiled, exported) from now on (a memory / speed knob:
 * a lower limit trades the one big patch matrix for the per-tap form's ninth of it; see
 * BENCHMARKS.md, lever "dw-memory"). Returns the previous limit.
 * @example setIm2colMaxBytes(64 * 2 ** 20)
 */
export function setIm2colMaxBytes(bytes: number): number {
  if (!(bytes >= 0)) throw new Error(`setIm2colMaxBytes: bytes must be >= 0, got ${bytes}`);
  const prev = im2colMaxBytes;
  im2colMaxBytes = bytes;
  return prev;
}

/**
 * The formulation 'auto' picks for input [N, C, H, W] (N may be symbolic), output size [Ho, Wo] and
 * `strides` (default 1).
 */
export function chooseWeightGradFormulation(
  n: number | string,
  c: number,
  kernel: readonly [number, number],
  outSize: readonly [number, number],
  strides: readonly [number, number] = [1, 1],
): 'im2col' | 'shifted' {
  const batch = typeof n === 'number' ? n : 64;
  const bytes = 4 * batch * c * kernel[0] * kernel[1] * outSize[0] * outSize[1];
  if (bytes > im2colMaxBytes) return 'shifted';
  const stride1 = strides[0] === 1 && strides[1] === 1;
  return stride1 && kernel[0] * kernel[1] > 1 && c >= PER_TAP_MIN_CHANNELS ? 'shifted' : 'im2col';
}

/** Stride-1 convs with at least this many input channels use the per-tap form at any size (see the rule above). */
export const PER_TAP_MIN_CHANNELS = 16;

registerOp({
  name: 'conv2d_weight_grad',
  infer([g, x], attrs) {
    const geo = geometryOf(attrs);
    const [kh, kw] = attrs.kernelSize as [number, number];
    if (g.rank !== 4 || x.rank !== 4)
      throw new Error(`gradient and input must have rank 4, got ranks ${g.rank} and ${x.rank}`);
    if (g.shape[0] !== x.shape[0])
      throw new Error(`batch sizes differ: gradient ${String(g.shape[0])}, input ${String(x.shape[0])}`);
    const C = staticDim(x.shape[1], 'input channels'),
      Co = staticDim(g.shape[1], 'gradient channels');
    const H = staticDim(x.shape[2], 'input height'),
      W = staticDim(x.shape[3], 'input width');
    if (C % geo.group !== 0 || Co % geo.group !== 0)
      throw new Error(`channels ${C} (input) and ${Co} (output) must be divisible by groups ${geo.group}`);
    const [Ho, Wo] = convOutShape(H, W, kh, kw, geo);
    if (g.shape[2] !== Ho || g.shape[3] !== Wo)
      throw new Error(
        `gradient spatial size [${formatShape(g.shape.slice(2))}] differs from the conv output size [${Ho}, ${Wo}]`,
      );
    if (attrs.formulation === 'valid_conv' && geo.group !== 1)
      throw new Error(`formulation 'valid_conv' supports groups = 1 only, got groups ${geo.group}`);
    return [{ shape: [Co, C / geo.group, kh, kw], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [g, x] = node.inputs;
    const geo = geometryOf(node.attrs);
    const kernel = node.attrs.kernelSize as [number, number];
    const f = node.attrs.formulation as WeightGradFormulation;
    const form =
      f === 'auto'
        ? chooseWeightGradFormulation(
            x.shape[0],
            x.shape[1] as number,
            kernel,
            [g.shape[2] as number, g.shape[3] as number],
            geo.strides,
          )
        : f;
    if (form === 'im2col') lowerIm2col(ctx, g, x, geo, kernel, ctx.outputs(node));
    else if (form === 'shifted') lowerShifted(ctx, g, x, geo, kernel, ctx.outputs(node));
    else lowerValidConv(ctx, g, x, geo, kernel, ctx.outputs(node));
  },
  vjp(node, [v]) {
    if (!v) return [null, null];
    const [g, x] = node.inputs;
    const geo = geometryOf(node.attrs);
    return [convForward(x, v, geo), conv2dInputGrad(g, v, [x.shape[2] as number, x.shape[3] as number], geo)];
  },
});

/** g [N, Co, Ho, Wo] -> g^T [N, (G,) L, Co/G] with L = Ho Wo. */
function gradTransposed(ctx: LowerCtx, g: Value, G: number): string {
  const [Co, Ho, Wo] = g.shape.slice(1) as number[];
  const L = Ho * Wo;
  if (G === 1) {
    const [r] = ctx.emit('Reshape', [ctx.name(g), ctx.constInt64([0, Co, L])]);
    return ctx.emit('Transpose', [r], { perm: [0, 2, 1] })[0];
  }
  const [r] = ctx.emit('Reshape', [ctx.name(g), ctx.constInt64([0, G, Co / G, L])]);
  return ctx.emit('Transpose', [r], { perm: [0, 1, 3, 2] })[0];
}

function lowerIm2col(
  ctx: LowerCtx,
  g: Value,
  x: Value,
  geo: ConvGeometry,
  [kh, kw]: [number, number],
  out: string[],
): void {
  const C = x.shape[1] as number;
  const [Co, Ho, Wo] = g.shape.slice(1) as number[];
  const G = geo.group,
    Cig = C / G,
    KK = kh * kw,
    L = Ho * Wo;
  let col: string;
  const identity = KK === 1 && geo.strides.every((s) => s === 1) && geo.pads.every((p) => p === 0);
  if (identity) col = ctx.name(x);
  else {
    // one-hot taps [KK, 1, kh, kw], tiled over the C groups of the depthwise conv
    const eye = new Float32Array(KK * KK);
    for (let t = 0; t < KK; t++) eye[t * KK + t] = 1;
    const [E] = ctx.emit('Tile', [ctx.constFloat(eye, [KK, 1, kh, kw]), ctx.constInt64([C, 1, 1, 1])]);
    [col] = ctx.emit('Conv', [ctx.name(x), E], onnxConvAttrs({ ...geo, group: C }, [kh, kw]));
  }
  const gT = gradTransposed(ctx, g, G);
  if (G === 1) {
    const [c3] = ctx.emit('Reshape', [col, ctx.constInt64([0, C * KK, L])]);
    const [m] = ctx.emit('MatMul', [c3, gT]); // [N, C KK, Co]
    const [s] = ctx.emit('ReduceSum', [m, ctx.constInt64([0])], { keepdims: 0 });
    const [t] = ctx.emit('Transpose', [s], { perm: [1, 0] });
    ctx.emit('Reshape', [t, ctx.constInt64([Co, C, kh, kw])], {}, out);
  } else {
    const [c4] = ctx.emit('Reshape', [col, ctx.constInt64([0, G, Cig * KK, L])]);
    const [m] = ctx.emit('MatMul', [c4, gT]); // [N, G, Cig KK, Co/G]
    const [s] = ctx.emit('ReduceSum', [m, ctx.constInt64([0])], { keepdims: 0 });
    const [t] = ctx.emit('Transpose', [s], { perm: [0, 2, 1] });
    ctx.emit('Reshape', [t, ctx.constInt64([Co, Cig, kh, kw])], {}, out);
  }
}

function lowerShifted(
  ctx: LowerCtx,
  g: Value,
  x: Value,
  geo: ConvGeometry,
  [kh, kw]: [number, number],
  out: string[],
): void {
  const C = x.shape[1] as number;
  const [H, W] = x.shape.slice(2) as number[];
  const [Co, Ho, Wo] = g.shape.slice(1) as number[];
  const G = geo.group,
    Cig = C / G,
    L = Ho * Wo;
  const [pt, pl, pb, pr] = geo.pads;
  const [sh, sw] = geo.strides,
    [dh, dw] = geo.dilations;
  const taps: string[] = [];
  if (G === 1 && sh === 1 && sw === 1 && Co <= C) {
    // Shift g instead of x (fewer channels to copy): with stride 1,
    //   dW[o, c, p, q] = sum_{h, w} g~_pq[n, o, h, w] x[n, c, h, w],  g~_pq[h, w] = g[h + pt - p dh, w + pl - q dw]
    // (g zero outside), a Slice of g padded by (kh - 1) dh - pt rows above and (kh - 1) dh - pb below.
    const PT = Math.max(0, (kh - 1) * dh - pt),
      PL = Math.max(0, (kw - 1) * dw - pl);
    const PB = Math.max(0, (kh - 1) * dh - pb),
      PR = Math.max(0, (kw - 1) * dw - pr);
    const gp =
      PT + PL + PB + PR === 0
        ? ctx.name(g)
        : ctx.emit('Pad', [ctx.name(g), ctx.constInt64([0, 0, PT, PL, 0, 0, PB, PR]), ctx.constFloat([0], [])], {
            mode: 'constant',
          })[0];
    const [xr] = ctx.emit('Reshape', [ctx.name(x), ctx.constInt64([0, C, H * W])]);
    for (let p = 0; p < kh; p++) {
      for (let q = 0; q < kw; q++) {
        const r0 = pt - p * dh + PT,
          c0 = pl - q * dw + PL;
        // the tap that lines g up with x needs no copy
        const gs =
          r0 === PT && c0 === PL && Ho === H && Wo === W
            ? ctx.name(g)
            : ctx.emit('Slice', [
                gp,
                ctx.constInt64([r0, c0]),
                ctx.constInt64([r0 + H, c0 + W]),
                ctx.constInt64([2, 3]),
              ])[0];
        const [gr] = ctx.emit('Reshape', [gs, ctx.constInt64([0, Co, H * W])]);
        const [gsT] = ctx.emit('Transpose', [gr], { perm: [0, 2, 1] });
        const [m] = ctx.emit('MatMul', [xr, gsT]); // [N, C, Co]
        const [s] = ctx.emit('ReduceSum', [m, ctx.constInt64([0])], { keepdims: 0 });
        taps.push(ctx.emit('Unsqueeze', [s, ctx.constInt64([-1])])[0]);
      }
    }
  } else {
    const xp =
      pt + pl + pb + pr === 0
        ? ctx.name(x)
        : ctx.emit('Pad', [ctx.name(x), ctx.constInt64([0, 0, pt, pl, 0, 0, pb, pr]), ctx.constFloat([0], [])], {
            mode: 'constant',
          })[0];
    const gT = gradTransposed(ctx, g, G);
    for (let p = 0; p < kh; p++) {
      for (let q = 0; q < kw; q++) {
        // the tap that lines x up with g needs no copy
        const aligned = sh === 1 && sw === 1 && p * dh === pt && q * dw === pl && Ho === H && Wo === W;
        const xs = aligned
          ? ctx.name(x)
          : ctx.emit('Slice', [
              xp,
              ctx.constInt64([p * dh, q * dw]),
              ctx.constInt64([p * dh + (Ho - 1) * sh + 1, q * dw + (Wo - 1) * sw + 1]),
              ctx.constInt64([2, 3]),
              ctx.constInt64([sh, sw]),
            ])[0];
        const [xr] = ctx.emit('Reshape', [xs, ctx.constInt64(G === 1 ? [0, C, L] : [0, G, Cig, L])]);
        const [m] = ctx.emit('MatMul', [xr, gT]); // [N, (G,) Cig, Co/G]
        const [s] = ctx.emit('ReduceSum', [m, ctx.constInt64([0])], { keepdims: 0 });
        taps.push(ctx.emit('Unsqueeze', [s, ctx.constInt64([-1])])[0]);
      }
    }
  }
  const [st] = ctx.emit('Concat', taps, { axis: -1 }); // [(G,) Cig, Co/G, KK]
  const [t] = ctx.emit('Transpose', [st], { perm: G === 1 ? [1, 0, 2] : [0, 2, 1, 3] });
  ctx.emit('Reshape', [t, ctx.constInt64([Co, Cig, kh, kw])], {}, out);
}

function lowerValidConv(
  ctx: LowerCtx,
  g: Value,
  x: Value,
  geo: ConvGeometry,
  [kh, kw]: [number, number],
  out: string[],
): void {
  const [Ho, Wo] = g.shape.slice(2) as number[];
  const [xT] = ctx.emit('Transpose', [ctx.name(x)], { perm: [1, 0, 2, 3] }); // [C, N, H, W]
  const [gT] = ctx.emit('Transpose', [ctx.name(g)], { perm: [1, 0, 2, 3] }); // [Co, N, Ho, Wo]
  // the roles of stride and dilation swap: kernel taps of g are `stride` apart, outputs `dilation` apart
  const [r] = ctx.emit('Conv', [xT, gT], {
    kernel_shape: [Ho, Wo],
    strides: [...geo.dilations],
    dilations: [...geo.strides],
    pads: [...geo.pads],
    group: 1,
  });
  const [c] = ctx.emit('Slice', [r, ctx.constInt64([0, 0]), ctx.constInt64([kh, kw]), ctx.constInt64([2, 3])]);
  ctx.emit('Transpose', [c], { perm: [1, 0, 2, 3] }, out);
}

/**
 * dW of conv2d: `g` is the output gradient [N, Co, Ho, Wo], `x` the conv input [N, C, H, W],
 * `kernelSize` = [kh, kw]. `formulation` overrides the per-shape rule (for benchmarks).
 */
export function conv2dWeightGrad(
  g: Value,
  x: Value,
  kernelSize: readonly [number, number],
  geo: ConvGeometry,
  formulation: WeightGradFormulation = 'auto',
): Value {
  return apply1('conv2d_weight_grad', [g, x], { ...geo, kernelSize: [...kernelSize], formulation });
}
