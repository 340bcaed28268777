/**
 * NDArray: the host tensor of diffuse. A row-major Float32Array with a shape (NCHW for images).
 *
 * Only small eager helpers live here (elementwise arithmetic, scaling, reshaping) — enough for
 * schedulers and data pipelines. Heavy math runs as a traced graph on ONNX Runtime.
 *
 * @example
 *   const x = NDArray.from([[1, 2], [3, 4]]);
 *   const y = x.mulScalar(2).add(NDArray.ones([2, 2]));   // [[3, 5], [7, 9]]
 */
export class NDArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;

  constructor(shape: readonly number[], data?: Float32Array | ArrayLike<number>) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0)
        throw new Error(`NDArray: invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    }
    const n = sizeOf(shape);
    this.shape = Object.freeze([...shape]);
    if (data === undefined) this.data = new Float32Array(n);
    else {
      this.data = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
      if (this.data.length !== n) {
        throw new Error(
          `NDArray: data length ${this.data.length} does not match shape [${shape.join(', ')}] (size ${n})`,
        );
      }
    }
  }

  get size(): number {
    return this.data.length;
  }
  get ndim(): number {
    return this.shape.length;
  }

  static zeros(shape: readonly number[]): NDArray {
    return new NDArray(shape);
  }
  static ones(shape: readonly number[]): NDArray {
    return NDArray.full(shape, 1);
  }
  static full(shape: readonly number[], value: number): NDArray {
    const a = new NDArray(shape);
    a.data.fill(value);
    return a;
  }
  static scalar(value: number): NDArray {
    return new NDArray([], [value]);
  }
  /** From a (nested) JS array; the shape is inferred. */
  static from(nested: unknown): NDArray {
    const shape: number[] = [];
    let cur: unknown = nested;
    while (Array.isArray(cur)) {
      shape.push(cur.length);
      cur = cur[0];
    }
    const flat = (Array.isArray(nested) ? (nested as unknown[]).flat(Infinity) : [nested]) as number[];
    return new NDArray(shape, flat);
  }
  /** 0, 1, ..., n-1 as float32 (like torch.arange). */
  static arange(n: number): NDArray {
    const a = new NDArray([n]);
    for (let i = 0; i < n; i++) a.data[i] = i;
    return a;
  }

  clone(): NDArray {
    return new NDArray(this.shape, this.data.slice());
  }
  /** Same data, new shape (one dimension may be -1). Shares memory. */
  reshape(shape: readonly number[]): NDArray {
    const s = [...shape];
    const neg = s.indexOf(-1);
    if (neg >= 0) {
      const rest = s.reduce((p, d, i) => (i === neg ? p : p * d), 1);
      s[neg] = rest === 0 ? 0 : this.size / rest;
    }
    if (sizeOf(s) !== this.size)
      throw new Error(`NDArray.reshape: cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    return new NDArray(s, this.data);
  }
  /** Value of a one-element array. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`NDArray.item: array of shape [${this.shape.join(', ')}] has ${this.size} elements, expected 1`);
    return this.data[0];
  }
  toArray(): number[] {
    return Array.from(this.data);
  }

  map(f: (v: number, i: number) => number): NDArray {
    const out = new NDArray(this.shape);
    const a = this.data,
      o = out.data;
    for (let i = 0; i < a.length; i++) o[i] = f(a[i], i);
    return out;
  }
  private zip(other: NDArray | number, f: (a: number, b: number) => number, name: string): NDArray {
    if (typeof other === 'number') return this.map((v) => f(v, other));
    if (other.size === 1 && this.size !== 1) {
      const b = other.data[0];
      return this.map((v) => f(v, b));
    }
    if (this.size === 1 && other.size !== 1) {
      const a = this.data[0];
      return other.map((v) => f(a, v));
    }
    if (!sameShape(this.shape, other.shape)) {
      throw new Error(
        `NDArray.${name}: shapes [${this.shape.join(', ')}] and [${other.shape.join(', ')}] differ (eager helpers broadcast only scalars)`,
      );
    }
    const out = new NDArray(this.shape);
    const a = this.data,
      b = other.data,
      o = out.data;
    for (let i = 0; i < a.length; i++) o[i] = f(a[i], b[i]);
    return out;
  }
  add(o: NDArray | number): NDArray {
    return this.zip(o, (a, b) => a + b, 'add');
  }
  sub(o: NDArray | number): NDArray {
    return this.zip(o, (a, b) => a - b, 'sub');
  }
  mul(o: NDArray | number): NDArray {
    return this.zip(o, (a, b) => a * b, 'mul');
  }
  div(o: NDArray | number): NDArray {
    return this.zip(o, (a, b) => a / b, 'div');
  }
  mulScalar(s: number): NDArray {
    return this.map((v) => v * s);
  }
  neg(): NDArray {
    return this.map((v) => -v);
  }
  sum(): number {
    let s = 0;
    for (const v of this.data) s += v;
    return s;
  }
  mean(): number {
    return this.size === 0 ? NaN : this.sum() / this.size;
  }
  absMax(): number {
    let m = 0;
    for (const v of this.data) m = Math.max(m, Math.abs(v));
    return m;
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
