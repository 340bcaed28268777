/**
 * Rematerialisation (recomputation in the backward pass; Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost", sec. 3; Griewank & Walther 2000) for a traced training graph: values of the
 * forward pass that the backward pass reads are normally kept alive from the forward to the
 * backward; a rematerialised value is instead computed again, from values that are kept anyway,
 * right where the backward needs it, so its forward copy dies early.
 *
 * The forward pass is every node the `forward` outputs depend on (by default the output named
 * 'loss'); everything else (VJPs, optimizer update) is the backward. Policies:
 *
 * - 'elementwise' (cheap): recompute outputs of elementwise and layout ops (add, mul, sigmoid,
 *   reshape, ...) whose inputs are themselves kept anyway, rematerialised, graph inputs or small
 *   (<= 65,536 elements: parameters, per-sample embeddings). In a UNet this is GroupNorm's affine
 *   output z = x_hat w + b, SiLU's sigmoid(z) and its output z sigmoid(z) (the next conv's input):
 *   three full activations per norm + activation, rebuilt from x_hat, which the norm's VJP keeps anyway.
 * - 'all' (gradient checkpointing): additionally recompute convolutions, matmuls and norms, keeping
 *   only the values produced by the ops named in `checkpoints` (default: 'concat' and 'conv2d' with
 *   stride > 1, i.e. the skip connections and the down-sampling points of a UNet) plus whatever
 *   cannot be recomputed from them.
 *
 * Every recomputation repeats the forward op on the same inputs, so the numbers are identical.
 * ONNX Runtime's own common-subexpression elimination would merge the copies back into the forward
 * pass; `compile()` therefore turns that ORT pass off when rematerialising (ours has already run).
 *
 * @example
 *   const { graph, recomputed } = rematerialize(trainGraph, { policy: 'elementwise' });
 */
import { staticSize, type Graph, type Node, type Value } from '../graph.ts';
import { liveNodes } from '../onnx.ts';
import { rewriteGraph } from './rewrite.ts';

export type RematPolicy = 'elementwise' | 'all';

export interface RematOptions {
  policy?: RematPolicy;
  /** Names of the outputs that make up the forward pass (default ['loss']). */
  forward?: string[];
  /** 'all': ops whose outputs are kept (checkpoints). */
  checkpoints?: string[];
}

/** Ops cheap enough to recompute: elementwise and layout. */
const CHEAP = new Set([
  'add',
  'sub',
  'mul',
  'div',
  'neg',
  'sigmoid',
  'tanh',
  'relu',
  'square',
  'sqrt',
  'rsqrt',
  'exp',
  'abs',
  'clip',
  'cast',
  'reshape',
  'transpose',
  'broadcast',
  'identity',
  'stop_gradient',
  'upsample_nearest2d',
  'concat',
  'slice',
  'erf',
  'where',
]);
/** Ops only 'all' recomputes. */
const COSTLY = new Set([
  'conv2d',
  'linear',
  'matmul',
  'layer_norm',
  'group_norm',
  'softmax',
  'reduce_mean',
  'reduce_sum',
  'avg_pool2d',
]);

const SMALL = 65536;

export interface RematResult {
  graph: Graph;
  /** Forward values read by the backward pass (before), and how many of them are now recomputed. */
  saved: number;
  recomputed: number;
  /** Their size in MiB (static shapes only). */
  savedMiB: number;
  recomputedMiB: number;
}

const mib = (v: Value): number => ((staticSize(v.shape) ?? 0) * 4) / 2 ** 20;

/** Rematerialise forward values for the backward pass of `g`; see the file comment. */
export function rematerialize(g: Graph, opts: RematOptions = {}): RematResult {
  const policy = opts.policy ?? 'elementwise';
  const fwdNames = opts.forward ?? ['loss'];
  const roots = g.outputs.filter((v) => v.name !== undefined && fwdNames.includes(v.name));
  const none = (): RematResult => ({ graph: g, saved: 0, recomputed: 0, savedMiB: 0, recomputedMiB: 0 });
  if (roots.length === 0) return none();
  const nodes = liveNodes(g);
  // forward = ancestors of the forward outputs
  const fwd = new Set<Node>();
  const stack = roots.map((v) => v.producer).filter((n): n is Node => n !== null);
  while (stack.length) {
    const n = stack.pop()!;
    if (fwd.has(n)) continue;
    fwd.add(n);
    for (const i of n.inputs) if (i.producer && !fwd.has(i.producer)) stack.push(i.producer);
  }
  // forward values read by the backward
  const saved = new Set<Value>();
  for (const n of nodes) if (!fwd.has(n)) for (const i of n.inputs) if (i.producer && fwd.has(i.producer)) saved.add(i);
  if (saved.size === 0) return none();

  const checkpointOps = new Set(opts.checkpoints ?? ['concat', 'conv2d_strided']);
  const isCheckpoint = (n: Node): boolean => {
    if (n.op === 'conv2d') {
      const strided = (n.attrs.strides as number[]).some((s) => s > 1);
      return checkpointOps.has(strided ? 'conv2d_strided' : 'conv2d');
    }
    return checkpointOps.has(n.op);
  };
  const recomputable = (n: Node): boolean => {
    if (n.op === 'constant') return false;
    if (policy === 'all' && isCheckpoint(n)) return false;
    if (CHEAP.has(n.op)) return n.outputs.length === 1;
    return policy === 'all' && COSTLY.has(n.op);
  };
  // Available in the backward without keeping anything new: graph inputs, constants, small values,
  // values kept anyway (read by the backward and not recomputed; with 'all' also the checkpoints),
  // and recomputed values.
  const remat = new Set<Value>();
  const kept = new Set<Value>();
  const avail = (v: Value): boolean =>
    !v.producer ||
    v.producer.op === 'constant' ||
    (staticSize(v.shape) ?? Infinity) <= SMALL ||
    remat.has(v) ||
    kept.has(v);
  for (const n of nodes) {
    if (!fwd.has(n)) continue;
    if (recomputable(n) && n.inputs.every(avail)) for (const o of n.outputs) remat.add(o);
    else for (const o of n.outputs) if (saved.has(o) || (policy === 'all' && isCheckpoint(n))) kept.add(o);
  }
  // only values the backward reads need copies; their recomputed inputs come along
  const used = [...saved].filter((v) => remat.has(v));
  const savedMiB = [...saved].reduce((a, v) => a + mib(v), 0);
  if (used.length === 0) return { ...none(), saved: saved.size, savedMiB };

  // rewrite: backward nodes read copies, made once (on first use, in backward order)
  const copies = new Map<Value, Value>();
  const result = rewriteGraph(g, (ctx, node, inputs) => {
    if (fwd.has(node)) return undefined;
    const copy = (orig: Value): Value => {
      if (!remat.has(orig)) return ctx.mapped(orig);
      const hit = copies.get(orig);
      if (hit) return hit;
      const p = orig.producer!;
      const outs = ctx.emit(p.op, p.inputs.map(copy), p.attrs, p.caller);
      p.outputs.forEach((o, i) => copies.set(o, outs[i]));
      return copies.get(orig)!;
    };
    const ins = node.inputs.map(copy);
    if (ins.every((v, i) => v === inputs[i])) return undefined;
    return ctx.emit(node.op, ins, node.attrs, node.caller);
  });
  return {
    graph: result,
    saved: saved.size,
    recomputed: used.length,
    savedMiB,
    recomputedMiB: used.reduce((a, v) => a + mib(v), 0),
  };
}
