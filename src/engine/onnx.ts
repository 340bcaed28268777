/**
 * Graph -> ONNX ModelProto bytes, through the `onnx-proto` protobuf library (no hand-written
 * wire encoding). Only nodes that the outputs depend on are emitted (dead-node removal), and
 * every ONNX node is named `<op>_<id>` after the traced op that produced it, so a runtime error
 * can be traced back to the op and its caller.
 *
 * @example
 *   const bytes = toOnnx(trace((x) => relu(x), [{ name: 'x', shape: ['batch', 4] }]));
 */
import onnxProto from 'onnx-proto';
import type { Graph, Node, Value, DType, Shape } from './graph.ts';
import { PORTABLE_TARGET, getOp, type LowerCtx, type LowerTarget, type OnnxAttr } from './trace.ts';

const { onnx } = onnxProto;

// Opset 17 (IR 8): loads in ONNX Runtime and passes the checker of Debian's python3-onnx 1.12.
// So: ReduceSum takes axes as an input; ReduceMean/ReduceMax take an `axes` attribute; no Gelu/GroupNormalization ops.
export const OPSET = 17;
export const IR_VERSION = 8;

const DTYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export interface ExportOptions {
  /** Model name stored in the graph. */
  name?: string;
  /** Free-form key/value metadata (e.g. the model config) stored in the model. */
  metadata?: Record<string, string>;
  /** Runtime-specific lowering (default: none, a portable model). compile() passes its backend's. */
  target?: LowerTarget;
}

/** Map from emitted ONNX node name to the traced node it came from. */
export type NodeOrigin = Map<string, Node>;

/** Nodes needed for the outputs, in topological order. */
export function liveNodes(g: Graph): Node[] {
  const live = new Set<Node>();
  const stack = g.outputs.map((v) => v.producer).filter((n): n is Node => n !== null);
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const v of n.inputs) if (v.producer && !live.has(v.producer)) stack.push(v.producer);
  }
  return g.nodes.filter((n) => live.has(n));
}

/**
 * The ONNX ModelProto object of a graph and the traced node of each emitted node (compile() reports
 * ONNX Runtime errors with it). Internal: its type is onnx-proto's, which the package's public
 * declarations do not expose; `toOnnx` gives the bytes.
 * @internal
 */
export function toOnnxProto(
  g: Graph,
  opts: ExportOptions = {},
): { model: onnxProto.onnx.ModelProto; origin: NodeOrigin } {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const origin: NodeOrigin = new Map();
  const names = new Map<number, string>();
  let fresh = 0;
  const name = (v: Value): string => {
    if (v.name !== undefined) return v.name;
    let n = names.get(v.id);
    if (!n) {
      n = `v${v.id}`;
      names.set(v.id, n);
    }
    return n;
  };
  let current: Node | undefined;
  let sub = 0;
  const domains = new Set<string>();
  const ctx: LowerCtx = {
    name,
    target: opts.target ?? PORTABLE_TARGET,
    outputs: (node) => node.outputs.map(name),
    emit(opType, inputs, attrs = {}, outputs = 1, domain) {
      const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => `t${fresh++}`) : outputs;
      const nodeName = `${current!.op}_${current!.id}${sub++ ? `_${sub - 1}` : ''}`;
      origin.set(nodeName, current!);
      if (domain) domains.add(domain);
      nodes.push({
        name: nodeName,
        opType,
        input: inputs,
        output: outs,
        attribute: Object.entries(attrs).map(([k, a]) => attribute(k, a)),
        ...(domain ? { domain } : {}),
      });
      return outs;
    },
    constInt64(values, shape = [values.length], nm) {
      const n = nm ?? `c${fresh++}`;
      const raw = new BigInt64Array(values.map((x) => BigInt(x)));
      initializers.push({ name: n, dataType: DTYPE.int64, dims: [...shape], rawData: new Uint8Array(raw.buffer) });
      return n;
    },
    constFloat(values, shape = [values.length], nm) {
      const n = nm ?? `c${fresh++}`;
      const f = values instanceof Float32Array ? values : Float32Array.from(values);
      initializers.push({
        name: n,
        dataType: DTYPE.float32,
        dims: [...shape],
        rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
      });
      return n;
    },
  };
  for (const node of liveNodes(g)) {
    current = node;
    sub = 0;
    getOp(node.op).lower(ctx, node);
  }
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'diffuse',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: opts.name ?? 'diffuse_graph',
      node: nodes,
      initializer: initializers,
      input: g.inputs.map((v) => valueInfo(name(v), v.shape, v.dtype)),
      output: g.outputs.map((v) => valueInfo(name(v), v.shape, v.dtype)),
    },
  });
  return { model, origin };
}

/** Serialise a traced Graph as ONNX model bytes. */
export function toOnnx(g: Graph, opts: ExportOptions = {}): Uint8Array {
  const { model } = toOnnxProto(g, opts);
  return onnx.ModelProto.encode(model).finish();
}

function valueInfo(name: string, shape: Shape, dtype: DType): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: OnnxAttr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`ONNX attribute '${name}': ${a} is not an integer; use { float: x }`);
    return { name, type: T.INT, i: a };
  }
  if (typeof a === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) return { name, type: T.INTS, ints: a };
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  return { name, type: T.FLOATS, floats: a.floats };
}
