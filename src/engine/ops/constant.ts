/** constant: a tensor embedded in the graph (ONNX initializer). Not differentiable. */
import { registerOp } from '../trace.ts';
import type { DType } from '../graph.ts';

registerOp({
  name: 'constant',
  infer: (_inputs, attrs) => [{ shape: attrs.shape as number[], dtype: attrs.dtype as DType }],
  lower(ctx, node) {
    const { data, shape, dtype } = node.attrs as { data: Float32Array | number[]; shape: number[]; dtype: DType };
    const [out] = ctx.outputs(node);
    if (dtype === 'int64') ctx.constInt64(data as number[], shape, out);
    else ctx.constFloat(data as Float32Array, shape, out);
  },
});
