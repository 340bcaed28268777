/**
 * Graph clean-up before export (issue 6): the passes `compile()` runs on a traced graph unless told
 * not to (`compile(g, { optimize: false })`):
 *
 * - dead-node removal (only what the outputs depend on is kept; rewrite.ts),
 * - common-subexpression elimination (cse.ts),
 * - constant folding (fold.ts),
 * - exact local simplifications, including reshape/transpose cancellation (simplify.ts);
 * - and, only when asked (`compile(g, { remat })`), recomputation of forward values in the backward
 *   pass instead of keeping them (remat.ts: cheap elementwise values, or gradient checkpointing).
 *
 * Every rewrite is exact in float32 (up to the sign of a zero), so an optimised graph gives the
 * numbers of the traced one. The traced graph itself is left untouched.
 *
 * @example
 *   const { graph, before, after } = optimizeGraph(trace(fn, specs));
 *   console.log(`${before} -> ${after} nodes`);
 */
import type { Graph } from '../graph.ts';
import { liveNodes } from '../onnx.ts';
import { CseMemo } from './cse.ts';
import { foldConstant } from './fold.ts';
import { rewriteGraph, type Rule } from './rewrite.ts';
import { simplifyNode } from './simplify.ts';

export { rewriteGraph, addNode, type Rule, type RewriteCtx } from './rewrite.ts';
export { CseMemo } from './cse.ts';
export { foldConstant, constOf } from './fold.ts';
export { simplifyNode } from './simplify.ts';
export { rematerialize, type RematOptions, type RematPolicy, type RematResult } from './remat.ts';

/** Which passes to run (all on by default; dead-node removal always runs). */
export interface OptimizeOptions {
  cse?: boolean;
  fold?: boolean;
  simplify?: boolean;
}

export interface OptimizeResult {
  graph: Graph;
  /** Live nodes before and after. */
  before: number;
  after: number;
  /** Rounds of the rewrite until nothing changed (at most 3). */
  rounds: number;
}

/** Run the clean-up passes to a fixed point (at most 3 rounds); see the file comment. */
export function optimizeGraph(g: Graph, opts: OptimizeOptions = {}): OptimizeResult {
  const rule: Rule = (ctx, node, inputs) => {
    if (opts.simplify !== false) {
      const r = simplifyNode(ctx, node, inputs);
      if (r) return r;
    }
    if (opts.fold !== false && node.op !== 'constant' && node.outputs.length === 1) {
      const c = foldConstant(node.op, inputs, node.attrs, node.outputs[0].shape);
      if (c) return ctx.emit('constant', [], { data: c.data, shape: c.shape, dtype: c.dtype }, node.caller);
    }
    return undefined;
  };
  const before = liveNodes(g).length;
  let cur = g,
    count = before,
    rounds = 0;
  while (rounds < 3) {
    rounds++;
    cur = rewriteGraph(cur, rule, opts.cse !== false ? new CseMemo() : undefined);
    const n = liveNodes(cur).length;
    if (n === count) break;
    count = n;
  }
  const live = liveNodes(cur);
  cur.nodes.splice(0, cur.nodes.length, ...live);
  return { graph: cur, before, after: live.length, rounds };
}
