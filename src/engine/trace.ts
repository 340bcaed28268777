/**
 * Tracing: calling a TypeScript function on symbolic Values records a Graph.
 *
 * Ops register an `OpDef` (shape rule, ONNX lowering, VJP rule) and are applied through
 * `applyOp`, which checks shapes at trace time and records the node with its caller.
 *
 * @example
 *   const g = trace((x, w) => matmul(x, w), [{ name: 'x', shape: ['batch', 3] }, { name: 'w', shape: [3, 4] }]);
 */
import { Graph, Node, Value, formatShape, type Attrs, type DType, type Shape } from './graph.ts';
import type { NDArray } from './ndarray.ts';

/** What an op's ONNX lowering may use: names of values and a way to emit ONNX nodes. */
export interface LowerCtx {
  /** ONNX tensor name of a Value. */
  name(v: Value): string;
  /**
   * Emit an ONNX node; returns its output names (fresh ones unless given). `domain` names an operator
   * set other than the default one (e.g. ONNX Runtime's 'com.microsoft.nchwc', see LowerTarget).
   */
  emit(
    opType: string,
    inputs: string[],
    attrs?: Record<string, OnnxAttr>,
    outputs?: string[] | number,
    domain?: string,
  ): string[];
  /** What the runtime that will run the model offers beyond standard ONNX (nothing for a plain export). */
  target: LowerTarget;
  /** An int64 initializer (e.g. axes, shapes); 1-D unless a shape is given. */
  constInt64(values: readonly number[], shape?: readonly number[], name?: string): string;
  /** A float32 initializer; 1-D unless a shape is given. */
  constFloat(values: readonly number[] | Float32Array, shape?: readonly number[], name?: string): string;
  /** Names of the node's outputs, in order. */
  outputs(node: Node): string[];
}

/**
 * Runtime-specific lowering choices. A plain export (`toOnnx`) uses none of them, so exported files
 * stay standard ONNX; `compile()` fills them from its backend.
 */
export interface LowerTarget {
  /**
   * Channel block of ONNX Runtime's CPU NCHWc kernels (8 with AVX2, 16 with AVX-512), or 0 when they
   * are not available. When > 0, convolutions whose weights are computed at run time (graph inputs, as
   * in a training step) are lowered to com.microsoft.nchwc Conv with the weights reordered in the
   * graph — the kernel ONNX Runtime itself picks only for constant weights (ops/_conv.ts, emitConv).
   */
  nchwcBlock: number;
}

/** The target of a plain, portable export. */
export const PORTABLE_TARGET: LowerTarget = { nchwcBlock: 0 };

export type OnnxAttr = number | string | number[] | { float: number } | { floats: number[] };

/** The definition of one op: shape rule, ONNX lowering, and VJP rule. */
export interface OpDef {
  name: string;
  /** Output shapes/dtypes from input Values and attrs; throw `Error` with a plain message when invalid. */
  infer(inputs: Value[], attrs: Attrs): { shape: Shape; dtype: DType }[];
  /** Emit ONNX nodes computing the outputs. */
  lower(ctx: LowerCtx, node: Node): void;
  /**
   * Reverse-mode rule: given cotangents of the outputs (null = zero), return cotangents of
   * the inputs (null = none / not differentiable). Written with traced ops, so it records
   * more nodes into the current graph.
   */
  vjp?(node: Node, gradOutputs: (Value | null)[]): (Value | null)[];
}

const registry = new Map<string, OpDef>();

export function registerOp(def: OpDef): OpDef {
  if (registry.has(def.name)) throw new Error(`op '${def.name}' registered twice`);
  registry.set(def.name, def);
  return def;
}

export function getOp(name: string): OpDef {
  const def = registry.get(name);
  if (!def) throw new Error(`unknown op '${name}'`);
  return def;
}

// ---------------------------------------------------------------- tracing context

const stack: Graph[] = [];

export function currentGraph(what: string): Graph {
  const g = stack[stack.length - 1];
  if (!g) throw new Error(`${what}: called outside of trace(); wrap the computation in trace(fn, inputs)`);
  return g;
}

export interface InputSpec {
  name: string;
  shape: Shape;
  dtype?: DType;
}

export type TraceOutput = Value | Value[] | Record<string, Value>;

/** A traced graph plus the structure of its outputs (names in order). */
export interface TracedGraph extends Graph {
  outputNames: string[];
}

/**
 * Trace `fn` on symbolic inputs. Outputs may be a Value, an array, or a record (whose keys
 * become output names).
 */
export function trace(fn: (...args: Value[]) => TraceOutput, inputs: InputSpec[]): TracedGraph {
  const g = new Graph() as TracedGraph;
  const args = inputs.map((s) => g.addInput(s.name, s.shape, s.dtype ?? 'float32'));
  stack.push(g);
  let out: TraceOutput;
  try {
    out = fn(...args);
  } finally {
    stack.pop();
  }
  let entries: [string, Value][];
  if (out instanceof Value) entries = [['output', out]];
  else if (Array.isArray(out)) entries = out.map((v, i) => [`output_${i}`, v]);
  else entries = Object.entries(out);
  const used = new Set(g.inputs.map((v) => v.name));
  g.outputs = entries.map(([name, v]) => {
    if (!(v instanceof Value)) throw new Error(`trace: output '${name}' is not a traced Value`);
    if (v.graph !== g) throw new Error(`trace: output '${name}' belongs to another graph`);
    // A value may be returned twice or be an input: give each output its own name via identity.
    if (v.name !== undefined || used.has(name)) v = identity(v);
    v.name = name;
    used.add(name);
    return v;
  });
  g.outputNames = entries.map(([n]) => n);
  return g;
}

function identity(v: Value): Value {
  stack.push(v.graph);
  try {
    return applyOp('identity', [v], {})[0];
  } finally {
    stack.pop();
  }
}

/** The first stack frame outside src/engine: where the user called the op. */
export function callerSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  for (const line of lines) {
    if (/[/\\]src[/\\]engine[/\\]/.test(line) || line.includes('node:internal')) continue;
    const m = line.match(/\(?([^()\s]+:\d+:\d+)\)?\s*$/);
    if (m) return m[1].replace(/^file:\/\//, '');
  }
  return '<unknown>';
}

export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export type Operand = Value | number;

/** Record an op application in the current graph and return its outputs. */
export function applyOp(op: string, operands: Operand[], attrs: Attrs = {}): Value[] {
  const def = getOp(op);
  const g = currentGraph(op);
  const inputs = operands.map((o) => (typeof o === 'number' ? scalarConst(o) : o));
  for (const v of inputs) {
    if (v.graph !== g)
      throw new Error(`${op}: input ${v} belongs to another graph (a Value was captured from a different trace)`);
  }
  let infos: { shape: Shape; dtype: DType }[];
  try {
    infos = def.infer(inputs, attrs);
  } catch (e) {
    const shapes = inputs.map((v) => `[${formatShape(v.shape)}]`).join(' and ');
    throw new ShapeError(`${op}: ${(e as Error).message} (input shapes ${shapes}; called at ${callerSite()})`);
  }
  const node = new Node(g.newId(), op, inputs, attrs, callerSite());
  node.outputs = infos.map((i) => new Value(g, g.newId(), i.shape, i.dtype, node));
  g.nodes.push(node);
  return node.outputs;
}

/** Single-output convenience. */
export function apply1(op: string, operands: Operand[], attrs: Attrs = {}): Value {
  return applyOp(op, operands, attrs)[0];
}

/** A float32 scalar constant (shape []). */
export function scalarConst(x: number): Value {
  return apply1('constant', [], { data: Float32Array.of(x), shape: [], dtype: 'float32' });
}

/** A constant tensor from an NDArray (float32), embedded in the graph as an initializer. */
export function constant(a: NDArray): Value {
  return apply1('constant', [], { data: a.data, shape: [...a.shape], dtype: 'float32' });
}

/** An int64 constant tensor. */
export function constantInt64(values: readonly number[], shape: readonly number[] = [values.length]): Value {
  return apply1('constant', [], { data: [...values], shape: [...shape], dtype: 'int64' });
}
