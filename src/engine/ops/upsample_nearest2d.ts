/**
 * upsampleNearest2d: nearest-neighbour upsampling of NCHW input by integer factors
 * (torch.nn.functional.interpolate(x, scale_factor=s, mode='nearest')): y[n, c, i, j] = x[n, c, floor(i / sh), floor(j / sw)].
 *
 * Lowering: 'expand' — Reshape to [N, C, H, 1, W, 1], Expand to [N, C, H, sh, W, sw], Reshape to
 * [N, C, H sh, W sw] — or 'resize' — one ONNX Resize (nearest, asymmetric, floor). 'auto' uses
 * UPSAMPLE_FORMULATION, the faster of the two in bench/engine.ts ("upsample" rows of BENCHMARKS.md).
 *
 * VJP: each input pixel feeds an sh x sw block, so dx = the block sums of g, written as
 * sh sw avgPool2d(g, [sh, sw]) (one AveragePool; it beat Reshape + ReduceSum over the block axes,
 * 3.0 vs 5.3 ms best-of-31 for g [64, 64, 28, 28] on the 2-core box).
 *
 * @example
 *   const up = upsampleNearest2d(h, 2);   // [n, 64, 7, 7] -> [n, 64, 14, 14]
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { staticDim, withShapes } from './_conv.ts';
import { avgPool2d } from './avg_pool2d.ts';
import { mul } from './mul.ts';

export type UpsampleFormulation = 'auto' | 'expand' | 'resize';

/** The lowering 'auto' uses (see the doc comment). */
export const UPSAMPLE_FORMULATION: 'expand' | 'resize' = 'resize';

registerOp({
  name: 'upsample_nearest2d',
  infer([x], attrs) {
    if (x.rank !== 4) throw new Error(`input must be NCHW (rank 4), got rank ${x.rank}`);
    const [sh, sw] = attrs.scale as [number, number];
    const H = staticDim(x.shape[2], 'input height'),
      W = staticDim(x.shape[3], 'input width');
    return [{ shape: [x.shape[0], x.shape[1], H * sh, W * sw], dtype: x.dtype }];
  },
  lower(ctx, node) {
    const x = node.inputs[0];
    const [sh, sw] = node.attrs.scale as [number, number];
    const f = node.attrs.formulation as UpsampleFormulation;
    const out = ctx.outputs(node);
    if ((f === 'auto' ? UPSAMPLE_FORMULATION : f) === 'resize') {
      ctx.emit(
        'Resize',
        [ctx.name(x), '', ctx.constFloat([1, 1, sh, sw])],
        { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        out,
      );
      return;
    }
    const [H, W] = x.shape.slice(2) as number[];
    const [r] = ctx.emit('Reshape', [ctx.name(x), ctx.constInt64([0, 0, H, 1, W, 1])]);
    const [e] = ctx.emit('Expand', [r, ctx.constInt64([1, 1, 1, sh, 1, sw])]);
    ctx.emit('Reshape', [e, ctx.constInt64([0, 0, H * sh, W * sw])], {}, out);
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const [sh, sw] = node.attrs.scale as [number, number];
    return [mul(avgPool2d(g, [sh, sw]), sh * sw)];
  },
});

/**
 * Nearest-neighbour upsampling of `x` [N, C, H, W] by integer `scale` (one number or [sh, sw]).
 * `formulation` overrides the lowering (for benchmarks).
 */
export function upsampleNearest2d(
  x: Value,
  scale: number | readonly [number, number],
  formulation: UpsampleFormulation = 'auto',
): Value {
  const s = (typeof scale === 'number' ? [scale, scale] : [...scale]) as [number, number];
  withShapes('upsample_nearest2d', [x], () => {
    if (s.length !== 2 || s.some((v) => !Number.isInteger(v) || v < 1))
      throw new Error(`scale must be a positive integer or a pair of them, got ${JSON.stringify(scale)}`);
  });
  return apply1('upsample_nearest2d', [x], { scale: s, formulation });
}
