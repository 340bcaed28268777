/**
 * The IR: a Graph of Nodes whose inputs and outputs are symbolic Values with shapes and dtypes
 * known at trace time. A dimension is a number, or a string naming a dynamic dimension
 * (e.g. 'batch') that stays symbolic in the exported ONNX model.
 */
export type DType = 'float32' | 'int64' | 'bool';
export type Dim = number | string;
export type Shape = readonly Dim[];

export class Value {
  /** Name in the exported model; graph inputs/outputs always have one. */
  name: string | undefined;
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly producer: Node | null,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `Value#${this.id}<${this.dtype}>[${formatShape(this.shape)}]`;
  }
}

export type Attrs = Record<string, unknown>;

export class Node {
  outputs: Value[] = [];
  constructor(
    readonly id: number,
    readonly op: string,
    readonly inputs: Value[],
    readonly attrs: Attrs,
    /** Where the user's code called the op (file:line), for error messages. */
    readonly caller: string,
  ) {}
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  outputs: Value[] = [];
  private nextId = 0;

  newId(): number {
    return this.nextId++;
  }

  addInput(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    if (this.inputs.some((v) => v.name === name)) throw new Error(`graph input '${name}' is declared twice`);
    const v = new Value(this, this.newId(), [...shape], dtype, null);
    v.name = name;
    this.inputs.push(v);
    return v;
  }
}

export function formatShape(shape: Shape): string {
  return shape.join(', ');
}

/** Number of elements, or undefined when a dimension is symbolic. */
export function staticSize(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/** Normalise a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting of two shapes; returns undefined when incompatible. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else return undefined;
  }
  return out;
}
