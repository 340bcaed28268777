/** Argument checks done before an op is applied, with errors that name the op, the input shape and the caller. */
import { formatShape, normAxis, type Value } from '../graph.ts';
import { ShapeError, callerSite } from '../trace.ts';
import { normAxes } from './reduce_sum.ts';

function fail(op: string, x: Value, e: unknown): never {
  const msg = (e as Error).message.replace(new RegExp(`^${op}: `), '');
  throw new ShapeError(`${op}: ${msg} (input shape [${formatShape(x.shape)}]; called at ${callerSite()})`);
}

/** Normalise one (possibly negative) axis of `x` for `op`. */
export function checkAxis(op: string, x: Value, axis: number): number {
  try {
    return normAxis(axis, x.rank, op);
  } catch (e) {
    return fail(op, x, e);
  }
}

/** Normalise, dedupe and sort the axes of `x` for `op` (all axes when omitted). */
export function checkAxes(op: string, x: Value, axes: number[] | undefined): number[] {
  try {
    return normAxes(axes, x.rank, op);
  } catch (e) {
    return fail(op, x, e);
  }
}
