/**
 * The rewriting driver shared by the graph clean-up passes: copy the live part of a Graph node by
 * node (in the original, topological order) into a new Graph, letting a rule replace each node on
 * the way. The input graph is never modified (a traced graph may still be exported or compiled
 * with other options).
 *
 * A rule sees the node with its inputs already mapped into the new graph and returns either
 * `undefined` (copy the node unchanged) or the Values (in the new graph) that stand for the node's
 * outputs — existing ones (the node is forwarded to them) or new ones it emitted through `ctx.emit`.
 *
 * Dead-node removal falls out of the walk: only nodes that the outputs depend on are visited.
 *
 * @example
 *   const g2 = rewriteGraph(g, (ctx, node, inputs) =>
 *     node.op === 'identity' && !ctx.isOutput(node) ? [inputs[0]] : undefined);
 */
import { Graph, Node, Value, type Attrs } from '../graph.ts';
import { liveNodes } from '../onnx.ts';
import { getOp } from '../trace.ts';
import type { CseMemo } from './cse.ts';

export interface RewriteCtx {
  /** The graph being built. */
  readonly graph: Graph;
  /** Emit a node into the new graph (shapes from the op's own rule); returns its outputs. */
  emit(op: string, inputs: Value[], attrs: Attrs, caller: string): Value[];
  /** Is one of the old node's outputs a graph output? */
  isOutput(node: Node): boolean;
  /** The new-graph Value standing for an old Value already visited. */
  mapped(v: Value): Value;
}

export type Rule = (ctx: RewriteCtx, node: Node, inputs: Value[]) => Value[] | undefined;

/** Add a node to `g` without the tracing machinery; output shapes come from the op's infer rule. */
export function addNode(g: Graph, op: string, inputs: Value[], attrs: Attrs, caller: string): Value[] {
  const infos = getOp(op).infer(inputs, attrs);
  const node = new Node(g.newId(), op, inputs, attrs, caller);
  node.outputs = infos.map((i) => new Value(g, g.newId(), i.shape, i.dtype, node));
  g.nodes.push(node);
  return node.outputs;
}

/**
 * Copy the live part of `g` through `rule`; outputs keep their names and order. With `cse`, every
 * node emitted (copied or made by the rule) is first looked up there: an equal earlier node is
 * reused instead (common-subexpression elimination, cse.ts).
 */
export function rewriteGraph(g: Graph, rule: Rule, cse?: CseMemo): Graph {
  const out = new Graph() as Graph & { outputNames?: string[] };
  const emit = (op: string, inputs: Value[], attrs: Attrs, caller: string): Value[] => {
    const hit = cse?.lookup(op, inputs, attrs);
    if (hit) return hit;
    const outs = addNode(out, op, inputs, attrs, caller);
    cse?.record(op, inputs, attrs, outs);
    return outs;
  };
  const subst = new Map<number, Value>();
  for (const v of g.inputs) subst.set(v.id, out.addInput(v.name!, v.shape, v.dtype));
  const outputIds = new Set(g.outputs.map((v) => v.id));
  const map = (v: Value): Value => {
    const m = subst.get(v.id);
    if (!m) throw new Error(`optimize: value ${v} is used before it is defined`);
    return m;
  };
  const ctx: RewriteCtx = {
    graph: out,
    emit,
    isOutput: (node) => node.outputs.some((v) => outputIds.has(v.id)),
    mapped: map,
  };
  for (const node of liveNodes(g)) {
    const inputs = node.inputs.map(map);
    let result = rule(ctx, node, inputs);
    if (!result) result = emit(node.op, inputs, node.attrs, node.caller);
    if (result.length !== node.outputs.length)
      throw new Error(
        `optimize: a rule returned ${result.length} values for '${node.op}' with ${node.outputs.length} outputs`,
      );
    node.outputs.forEach((v, i) => {
      const r = result![i];
      if (r.dtype !== v.dtype || r.shape.length !== v.shape.length || r.shape.some((d, k) => d !== v.shape[k])) {
        throw new Error(`optimize: rewriting '${node.op}' (called at ${node.caller}) changed ${v} into ${r}`);
      }
      subst.set(v.id, r);
    });
  }
  const taken = new Set<Value>();
  out.outputs = g.outputs.map((v) => {
    let r = map(v);
    // an output must be its own named value: not an input, not another output
    if (r.name !== undefined || taken.has(r)) r = addNode(out, 'identity', [r], {}, '<optimize>')[0];
    taken.add(r);
    r.name = v.name;
    return r;
  });
  const names = (g as Graph & { outputNames?: string[] }).outputNames;
  if (names) out.outputNames = [...names];
  return out;
}
