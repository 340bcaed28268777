/**
 * Constant folding: a node whose inputs are all constants is evaluated on the host and replaced by
 * a constant — only for ops whose float32 result the host computes exactly as ONNX Runtime does
 * (layout ops, and + - * / sqrt, which IEEE 754 rounds correctly: one float64 operation on float32
 * values rounded to float32 is the correctly rounded float32 result), and only while the result is
 * not larger than its largest input or 4096 elements (folding must not bloat the model: an Expand of
 * a scalar to a full activation stays an Expand).
 *
 * Typical catches: the weight transposes and per-channel reshapes of a denoiser whose weights are
 * embedded, and arithmetic between scalar constants.
 *
 * @example
 *   const r = foldConstant('mul', [c2, c3]);   // c2, c3 constant Values -> { data, shape, dtype } or undefined
 */
import { staticSize, type DType, type Value } from '../graph.ts';

export interface ConstData {
  data: Float32Array | number[];
  shape: number[];
  dtype: DType;
}

/** The data of a constant Value, or undefined. */
export function constOf(v: Value): ConstData | undefined {
  const p = v.producer;
  if (!p || p.op !== 'constant') return undefined;
  return p.attrs as unknown as ConstData;
}

const SMALL = 4096;

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i];
  }
  return s;
}

/** Elementwise f over numpy-broadcast operands. */
function broadcastMap(inputs: ConstData[], out: readonly number[], f: (xs: number[]) => number): Float32Array {
  const n = out.reduce((a, b) => a * b, 1);
  const r = new Float32Array(n);
  const st = inputs.map((c) => {
    const s = strides(c.shape);
    const pad = out.length - c.shape.length;
    return out.map((_, i) => (i < pad || c.shape[i - pad] === 1 ? 0 : s[i - pad]));
  });
  const idx = new Array<number>(out.length).fill(0);
  const xs = new Array<number>(inputs.length);
  for (let e = 0; e < n; e++) {
    for (let k = 0; k < inputs.length; k++) {
      let off = 0;
      for (let i = 0; i < out.length; i++) off += idx[i] * st[k][i];
      xs[k] = inputs[k].data[off];
    }
    r[e] = f(xs);
    for (let i = out.length - 1; i >= 0; i--) {
      if (++idx[i] < out[i]) break;
      idx[i] = 0;
    }
  }
  return r;
}

function transposeData(c: ConstData, perm: number[]): Float32Array | number[] {
  const inSt = strides(c.shape);
  const outShape = perm.map((p) => c.shape[p]);
  const n = outShape.reduce((a, b) => a * b, 1);
  const r: Float32Array | number[] = c.data instanceof Float32Array ? new Float32Array(n) : new Array<number>(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let e = 0; e < n; e++) {
    let off = 0;
    for (let i = 0; i < perm.length; i++) off += idx[i] * inSt[perm[i]];
    r[e] = c.data[off];
    for (let i = outShape.length - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return r;
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};
const UNARY: Record<string, (a: number) => number> = {
  neg: (a) => -a,
  sqrt: (a) => Math.sqrt(a),
  square: (a) => a * a,
};

/** Evaluate `op` on constant inputs when it is foldable (see the file comment); else undefined. */
export function foldConstant(
  op: string,
  inputs: Value[],
  attrs: Record<string, unknown>,
  outShape: readonly (number | string)[],
): ConstData | undefined {
  const cs = inputs.map(constOf);
  if (inputs.length === 0 || cs.some((c) => c === undefined)) return undefined;
  const consts = cs as ConstData[];
  const size = staticSize(outShape);
  if (size === undefined) return undefined;
  const largest = Math.max(...consts.map((c) => c.data.length));
  if (size > Math.max(SMALL, largest)) return undefined;
  const shape = outShape as number[];
  const c0 = consts[0];
  switch (op) {
    case 'reshape':
      return { data: c0.data, shape, dtype: c0.dtype };
    case 'transpose':
      return { data: transposeData(c0, attrs.perm as number[]), shape, dtype: c0.dtype };
    case 'broadcast':
      if (c0.dtype !== 'float32') return undefined;
      return { data: broadcastMap([c0], shape, (x) => x[0]), shape, dtype: 'float32' };
    default:
      break;
  }
  if (consts.some((c) => c.dtype !== 'float32')) return undefined;
  if (BINARY[op] && consts.length === 2) {
    const f = BINARY[op];
    return { data: broadcastMap(consts, shape, (x) => f(x[0], x[1])), shape, dtype: 'float32' };
  }
  if (UNARY[op] && consts.length === 1) {
    const f = UNARY[op];
    return { data: Float32Array.from(c0.data as Float32Array, f), shape, dtype: 'float32' };
  }
  return undefined;
}
