/**
 * silu (swish): x * sigmoid(x) (Elfwing et al. 2018, "Sigmoid-weighted linear units"; Ramachandran
 * et al. 2017). Composite op: the exported ONNX opset (17) has no SiLU/Swish, so it is traced as `sigmoid` and
 * `mul`; its lowering and VJP are those of the parts
 * (dx = g (sigma(x) + x sigma(x) (1 - sigma(x)))).
 *
 * @example
 *   const h = silu(linear(x, w, b));
 */
import { formatShape, type Value } from '../graph.ts';
import { callerSite, ShapeError } from '../trace.ts';
import { mul } from './mul.ts';
import { sigmoid } from './sigmoid.ts';

/** Elementwise x * sigmoid(x) (torch.nn.functional.silu). */
export function silu(x: Value): Value {
  if (x.dtype !== 'float32')
    throw new ShapeError(
      `silu: expected a float32 input, got ${x.dtype} (input shape [${formatShape(x.shape)}]; called at ${callerSite()})`,
    );
  return mul(x, sigmoid(x));
}
