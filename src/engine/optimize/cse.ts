/**
 * Common-subexpression elimination: two nodes with the same op, the same input Values and equal
 * attributes compute the same thing (every op of the engine is a pure function), so the second one
 * is replaced by the first. Constants are compared by dtype, shape and content, so the many scalar
 * constants a trace creates (every `mul(x, 2)` makes its own) and repeated weight reshapes collapse.
 *
 * Used by `rewriteGraph` on every node it emits (the nodes are visited in topological order, so a
 * node's inputs are already canonical when its key is computed).
 *
 * @example
 *   const memo = new CseMemo();
 *   const hit = memo.lookup('mul', [a, b], {});   // undefined the first time
 *   memo.record('mul', [a, b], {}, outputs);
 */
import type { Attrs, Value } from '../graph.ts';

type AttrValue = unknown;

const hashes = new WeakMap<object, string>();

/** FNV-1a over the bytes of a typed array or number list (a bucket key; equality is checked exactly), cached per array. */
function hashData(d: ArrayLike<number> | Float32Array): string {
  const hit = hashes.get(d);
  if (hit !== undefined) return hit;
  const h = hashUncached(d);
  hashes.set(d, h);
  return h;
}

function hashUncached(d: ArrayLike<number> | Float32Array): string {
  let h1 = 0x811c9dc5,
    h2 = 0x9747b28c;
  if (d instanceof Float32Array) {
    const u = new Uint32Array(d.buffer, d.byteOffset, d.length);
    for (let i = 0; i < u.length; i++) {
      h1 = Math.imul(h1 ^ u[i], 0x01000193);
      h2 = Math.imul(h2 ^ u[i], 0x5bd1e995);
    }
  } else {
    for (let i = 0; i < d.length; i++) {
      const lo = d[i] | 0,
        hi = Math.floor(d[i] / 4294967296) | 0;
      h1 = Math.imul(h1 ^ lo, 0x01000193);
      h2 = Math.imul(h2 ^ hi ^ lo, 0x5bd1e995);
    }
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}:${d.length}`;
}

function attrKey(a: AttrValue): string {
  if (a instanceof Float32Array) return `f32#${hashData(a)}`;
  if (Array.isArray(a) && a.length > 64) return `arr#${hashData(a as number[])}`;
  if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
    return `{${Object.keys(a)
      .sort()
      .map((k) => `${k}:${attrKey((a as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(a) ?? 'undefined';
}

function sameAttr(a: AttrValue, b: AttrValue): boolean {
  if (a === b) return true;
  if (a instanceof Float32Array || b instanceof Float32Array) {
    if (!(a instanceof Float32Array && b instanceof Float32Array) || a.length !== b.length) return false;
    // bitwise, so -0 and 0 (and different NaNs) stay distinct
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length),
      ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => sameAttr(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort(),
      kb = Object.keys(b).sort();
    return (
      ka.length === kb.length &&
      ka.every((k, i) => k === kb[i] && sameAttr((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return Object.is(a, b);
}

interface Entry {
  inputs: Value[];
  attrs: Attrs;
  outputs: Value[];
}

/** The table of nodes emitted so far, by (op, inputs, attrs). */
export class CseMemo {
  private readonly table = new Map<string, Entry[]>();
  /** Nodes found equal to an earlier one. */
  hits = 0;

  private key(op: string, inputs: Value[], attrs: Attrs): string {
    return `${op}(${inputs.map((v) => v.id).join(',')})${attrKey(attrs)}`;
  }

  /** Outputs of an earlier equal node, if any. */
  lookup(op: string, inputs: Value[], attrs: Attrs): Value[] | undefined {
    const bucket = this.table.get(this.key(op, inputs, attrs));
    const e = bucket?.find(
      (x) => x.inputs.length === inputs.length && x.inputs.every((v, i) => v === inputs[i]) && sameAttr(x.attrs, attrs),
    );
    if (e) this.hits++;
    return e?.outputs;
  }

  record(op: string, inputs: Value[], attrs: Attrs, outputs: Value[]): void {
    const k = this.key(op, inputs, attrs);
    const bucket = this.table.get(k);
    if (bucket) bucket.push({ inputs, attrs, outputs });
    else this.table.set(k, [{ inputs, attrs, outputs }]);
  }
}
