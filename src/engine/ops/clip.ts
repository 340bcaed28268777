/**
 * clip: clamp x to [min, max] elementwise (ONNX Clip with scalar min/max inputs; either bound may
 * be omitted). VJP, as torch.clamp: the gradient passes where min <= x <= max (bounds inclusive)
 * and is 0 outside.
 *
 * @example
 *   const x0 = clip(predX0, -1, 1);      // clip the predicted image to the data range
 *   const pos = clip(x, 0);              // lower bound only
 */
import { apply1, registerOp } from '../trace.ts';
import type { Value } from '../graph.ts';
import { inferUnary } from './_util.ts';
import { greaterEqual, lessEqual } from './compare.ts';
import { where } from './where.ts';

function checkBound(what: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v))
    throw new Error(`${what} must be a number or undefined, got ${String(v)}`);
  return v;
}

registerOp({
  name: 'clip',
  infer(inputs, attrs) {
    const lo = checkBound('min', attrs.min),
      hi = checkBound('max', attrs.max);
    if (lo === undefined && hi === undefined) throw new Error('give at least one of min and max');
    if (lo !== undefined && hi !== undefined && lo > hi) throw new Error(`min ${lo} is greater than max ${hi}`);
    return inferUnary(inputs);
  },
  lower(ctx, node) {
    const { min, max } = node.attrs as { min?: number; max?: number };
    const lo = min === undefined ? '' : ctx.constFloat([min], []);
    const hi = max === undefined ? '' : ctx.constFloat([max], []);
    ctx.emit('Clip', [ctx.name(node.inputs[0]), lo, hi], {}, ctx.outputs(node));
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const { min, max } = node.attrs as { min?: number; max?: number };
    let gx = g;
    if (max !== undefined) gx = where(lessEqual(x, max), gx, 0);
    if (min !== undefined) gx = where(greaterEqual(x, min), gx, 0);
    return [gx];
  },
});

/** Clamp `x` to [min, max] (torch.clamp); pass undefined to leave a side open. */
export function clip(x: Value, min?: number, max?: number): Value {
  return apply1('clip', [x], { min, max });
}
