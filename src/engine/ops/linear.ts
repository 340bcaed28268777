/**
 * linear: y = x W^T + b over the last axis of x (torch.nn.functional.linear), with the weight in
 * PyTorch layout W [out, in]. Lowered to one ONNX Gemm (transB = 1, bias as C) for 2-D x, else to
 * MatMul(x, W^T) (+ Add b); a 1-D x is treated as one row.
 *
 * VJP: dx = g W, db = g summed over all leading axes, dW = g^T x with the leading axes of g and x
 * flattened — the internal op `linear_weight_grad`, one Gemm (transA = 1) on [M, out] and [M, in]
 * (its reshapes use -1, so a symbolic batch needs no run-time shape arithmetic).
 *
 * @example
 *   const h = linear(x, w, b);    // x ['batch', 128], w [256, 128], b [256] -> ['batch', 256]
 *   const q = linear(tokens, wq); // tokens [n, 49, 64], wq [64, 64] -> [n, 49, 64]
 */
import { apply1, registerOp } from '../trace.ts';
import { formatShape, type Value } from '../graph.ts';
import { matmul } from './matmul.ts';
import { reshape } from './reshape.ts';
import { sum } from './reduce_sum.ts';

registerOp({
  name: 'linear',
  infer([x, w, b]) {
    if (x.rank < 2) throw new Error(`input needs rank >= 2 (linear() reshapes 1-D input), got rank ${x.rank}`);
    if (w.rank !== 2) throw new Error(`weight must be [out_features, in_features], got rank ${w.rank}`);
    if (x.dtype !== 'float32' || w.dtype !== 'float32')
      throw new Error(`input and weight must be float32, got ${x.dtype} and ${w.dtype}`);
    if (x.shape[x.rank - 1] !== w.shape[1])
      throw new Error(
        `input features ${String(x.shape[x.rank - 1])} differ from the weight's in_features ${String(w.shape[1])}`,
      );
    if (b && (b.rank !== 1 || b.shape[0] !== w.shape[0]))
      throw new Error(`bias must have shape [${String(w.shape[0])}], got [${formatShape(b.shape)}]`);
    return [{ shape: [...x.shape.slice(0, -1), w.shape[0]], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [x, w, b] = node.inputs;
    const out = ctx.outputs(node);
    if (x.rank === 2) {
      ctx.emit(
        'Gemm',
        node.inputs.map((v) => ctx.name(v)),
        { transB: 1 },
        out,
      );
      return;
    }
    const [wT] = ctx.emit('Transpose', [ctx.name(w)], { perm: [1, 0] });
    if (!b) ctx.emit('MatMul', [ctx.name(x), wT], {}, out);
    else {
      const [y] = ctx.emit('MatMul', [ctx.name(x), wT]);
      ctx.emit('Add', [y, ctx.name(b)], {}, out);
    }
  },
  vjp(node, [g]) {
    if (!g) return node.inputs.map(() => null);
    const [x, w, b] = node.inputs;
    const dx = matmul(g, w);
    const dw = linearWeightGrad(g, x);
    return b ? [dx, dw, sum(g, [...Array(g.rank - 1).keys()])] : [dx, dw];
  },
});

registerOp({
  name: 'linear_weight_grad',
  infer([g, x]) {
    if (g.rank !== x.rank || g.shape.slice(0, -1).some((d, i) => d !== x.shape[i])) {
      throw new Error(
        `leading dimensions of the gradient [${formatShape(g.shape)}] and the input [${formatShape(x.shape)}] differ`,
      );
    }
    return [{ shape: [g.shape[g.rank - 1], x.shape[x.rank - 1]], dtype: 'float32' }];
  },
  lower(ctx, node) {
    const [g, x] = node.inputs;
    const flat = (v: Value): string =>
      v.rank === 2
        ? ctx.name(v)
        : ctx.emit('Reshape', [ctx.name(v), ctx.constInt64([-1, v.shape[v.rank - 1] as number])])[0];
    ctx.emit('Gemm', [flat(g), flat(x)], { transA: 1 }, ctx.outputs(node));
  },
  vjp(node, [v]) {
    // dW = G^T X is bilinear: for a cotangent V [out, in], d/dG = X V^T and d/dX = G V
    if (!v) return [null, null];
    const [g, x] = node.inputs;
    return [linear(x, v), matmul(g, v)];
  },
});

/** dW of linear: the output gradient `g` [..., out] times the input `x` [..., in], summed over the leading axes. */
export function linearWeightGrad(g: Value, x: Value): Value {
  return apply1('linear_weight_grad', [g, x]);
}

/**
 * x W^T + b (torch.nn.functional.linear): `x` [..., in], `weight` [out, in], optional `bias` [out]
 * -> [..., out].
 */
export function linear(x: Value, weight: Value, bias?: Value | null): Value {
  if (x.rank === 1) {
    const y = apply1(
      'linear',
      bias ? [reshape(x, [1, x.shape[0]]), weight, bias] : [reshape(x, [1, x.shape[0]]), weight],
    );
    return reshape(y, [y.shape[1]]);
  }
  return apply1('linear', bias ? [x, weight, bias] : [x, weight]);
}
