/**
 * Reverse-mode automatic differentiation over the traced Graph.
 *
 * `grad(loss, wrt)` walks the nodes between `wrt` and `loss` in reverse topological order,
 * calls each op's VJP rule (which records new nodes into the same graph), and sums the
 * cotangents of values used more than once (fan-out).
 *
 * @example
 *   const g = trace(valueAndGrad((w, x) => sum(square(matmul(x, w)))), [
 *     { name: 'w', shape: [3, 1] }, { name: 'x', shape: [8, 3] }]);
 *   // outputs: loss, grad_0 (d loss / d w)
 */
import { type Value, formatShape } from './graph.ts';
import { getOp, scalarConst } from './trace.ts';
import { add } from './ops/add.ts';
import { broadcastTo } from './ops/broadcast.ts';

/** Gradients of a scalar `loss` with respect to each of `wrt` (zeros where unconnected). */
export function grad(loss: Value, wrt: Value[], seed?: Value): Value[] {
  if (!seed && loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new Error(
      `grad: loss must be a scalar, got shape [${formatShape(loss.shape)}]; reduce it (e.g. mean) or pass a seed cotangent`,
    );
  }
  const g = loss.graph;
  const wrtIds = new Set(wrt.map((v) => v.id));
  // Forward pass: which values depend on any of `wrt`.
  const depends = new Set<number>(wrtIds);
  for (const node of g.nodes) {
    if (node.inputs.some((v) => depends.has(v.id))) for (const o of node.outputs) depends.add(o.id);
  }
  if (!depends.has(loss.id)) return wrt.map((v) => zerosLike(v));

  const cot = new Map<number, Value>();
  cot.set(loss.id, seed ?? broadcastTo(scalarConst(1), loss.shape, loss));
  const nodes = g.nodes.slice(); // the VJP rules append nodes; iterate over the forward ones only
  const lossIndex = loss.producer ? nodes.indexOf(loss.producer) : -1;
  for (let i = lossIndex; i >= 0; i--) {
    const node = nodes[i];
    const gOuts = node.outputs.map((o) => cot.get(o.id) ?? null);
    if (gOuts.every((x) => x === null)) continue;
    if (!node.inputs.some((v) => depends.has(v.id))) continue;
    const def = getOp(node.op);
    if (!def.vjp) throw new Error(`grad: op '${node.op}' (called at ${node.caller}) has no VJP rule`);
    const gIns = def.vjp(node, gOuts);
    node.inputs.forEach((inp, k) => {
      const gi = gIns[k];
      if (!gi || !depends.has(inp.id)) return;
      if (gi.shape.length !== inp.shape.length || gi.shape.some((d, j) => d !== inp.shape[j])) {
        throw new Error(
          `grad: VJP of '${node.op}' returned shape [${formatShape(gi.shape)}] for input of shape [${formatShape(inp.shape)}]`,
        );
      }
      const prev = cot.get(inp.id);
      cot.set(inp.id, prev ? add(prev, gi) : gi);
    });
  }
  return wrt.map((v) => cot.get(v.id) ?? zerosLike(v));
}

function zerosLike(v: Value): Value {
  return broadcastTo(scalarConst(0), v.shape, v);
}

/**
 * Transform `fn` (returning a scalar loss, or [loss, ...aux]) into a function returning
 * [loss, ...aux, ...grads] with respect to the arguments at `argnums`.
 */
export function valueAndGrad(
  fn: (...args: Value[]) => Value | Value[],
  argnums: number[] = [0],
): (...args: Value[]) => Value[] {
  return (...args: Value[]) => {
    const out = fn(...args);
    const [loss, ...aux] = Array.isArray(out) ? out : [out];
    const grads = grad(
      loss,
      argnums.map((i) => {
        if (i < 0 || i >= args.length)
          throw new Error(`valueAndGrad: argnum ${i} out of range for ${args.length} arguments`);
        return args[i];
      }),
    );
    return [loss, ...aux, ...grads];
  };
}
