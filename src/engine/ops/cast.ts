/**
 * cast: convert between float32, int64 and bool (ONNX Cast). float32 -> int64 truncates toward
 * zero, anything -> bool is `x != 0`, bool -> number gives 0/1 (as torch's .long()/.bool()/.float()).
 * Not differentiable: the VJP returns none.
 *
 * @example
 *   const idx = cast(labelsFloat, 'int64');
 *   const mask = cast(greater(x, 0), 'float32');
 */
import { apply1, registerOp } from '../trace.ts';
import type { DType, Value } from '../graph.ts';

/** ONNX TensorProto.DataType codes. */
const ONNX_TYPE: Record<DType, number> = { float32: 1, int64: 7, bool: 9 };

function checkDType(to: unknown): DType {
  if (typeof to !== 'string' || !(to in ONNX_TYPE)) {
    throw new Error(`dtype ${JSON.stringify(to)} is not supported (allowed: ${Object.keys(ONNX_TYPE).join(', ')})`);
  }
  return to as DType;
}

registerOp({
  name: 'cast',
  infer: ([x], attrs) => [{ shape: x.shape, dtype: checkDType(attrs.to) }],
  lower: (ctx, node) => {
    ctx.emit('Cast', [ctx.name(node.inputs[0])], { to: ONNX_TYPE[node.attrs.to as DType] }, ctx.outputs(node));
  },
  vjp: () => [null],
});

/** Convert `x` to `dtype` ('float32' | 'int64' | 'bool'); returns `x` itself when it already has it. */
export function cast(x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return apply1('cast', [x], { to: dtype });
}
