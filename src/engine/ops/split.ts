/**
 * split / chunk: cut `x` along one axis into consecutive parts (ONNX Split with a sizes input,
 * opset 13+). This is the VJP of `concat`; its own VJP is `concat` of the part gradients (zeros for
 * parts without one).
 *
 * Part sizes may be symbolic: `split` then needs, for each part, a `like` value whose dimension
 * `axis` has that size (its run-time shape gives the split sizes); `chunk` into n equal parts
 * computes the sizes from the input's own shape and needs nothing more. A symbolic dimension made
 * by `concat` (e.g. 'batch+batch') chunks back into its parts ('batch', 'batch').
 *
 * @example
 *   const [a, b] = split(x, [2, 3], 1);          // x: [n, 5] -> [n, 2], [n, 3]
 *   const [uncond, cond] = chunk(eps, 2, 0);     // eps: ['batch+batch', ...] -> ['batch', ...] x 2
 */
import { applyOp, registerOp, scalarConst } from '../trace.ts';
import { formatShape, type Dim, type Value } from '../graph.ts';
import { checkAxis } from './_checks.ts';
import { broadcastTo } from './broadcast.ts';
import { concatAs, sumDims } from './concat.ts';

function chunkSizes(d: Dim, n: unknown): Dim[] {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new Error(`the number of chunks must be a positive integer, got ${String(n)}`);
  if (typeof d === 'number') {
    if (d % n !== 0) throw new Error(`size ${d} does not divide into ${n} equal chunks`);
    return Array(n).fill(d / n);
  }
  const terms = d.split('+');
  const part = terms.length === n && terms.every((t) => t === terms[0]) ? terms[0] : `${d}/${n}`;
  return Array(n).fill(part);
}

registerOp({
  name: 'split',
  infer(inputs, attrs) {
    const [x, ...likes] = inputs;
    const axis = attrs.axis as number;
    if (attrs.chunks !== undefined) {
      return chunkSizes(x.shape[axis], attrs.chunks).map((s) => ({
        shape: x.shape.map((d, i) => (i === axis ? s : d)),
        dtype: x.dtype,
      }));
    }
    const sizes = attrs.sizes as Dim[];
    if (sizes.length === 0) throw new Error('give at least one part size');
    for (const s of sizes) {
      if (typeof s === 'number' && (!Number.isInteger(s) || s < 0))
        throw new Error(`part sizes must be non-negative integers, got [${formatShape(sizes)}]`);
    }
    if (sumDims(sizes) !== x.shape[axis]) {
      throw new Error(`part sizes [${formatShape(sizes)}] do not add up to dimension ${axis} of size ${x.shape[axis]}`);
    }
    if (sizes.some((s) => typeof s === 'string')) {
      if (likes.length !== sizes.length)
        throw new Error(
          `symbolic part sizes [${formatShape(sizes)}] need one 'like' value per part, got ${likes.length}`,
        );
      likes.forEach((l, i) => {
        if (l.shape[axis] !== sizes[i])
          throw new Error(`'like' value ${i} has size ${l.shape[axis]} on axis ${axis}, expected ${sizes[i]}`);
      });
    }
    return sizes.map((s) => ({ shape: x.shape.map((d, i) => (i === axis ? s : d)), dtype: x.dtype }));
  },
  lower(ctx, node) {
    const [x, ...likes] = node.inputs;
    const axis = node.attrs.axis as number;
    const sizes = node.outputs.map((o) => o.shape[axis]);
    const outs = ctx.outputs(node);
    if (sizes.every((s) => typeof s === 'number')) {
      ctx.emit('Split', [ctx.name(x), ctx.constInt64(sizes as number[])], { axis }, outs);
    } else if (node.attrs.chunks !== undefined) {
      // n equal parts of a run-time size: split sizes = Expand(dim / n, [n]) (works for every opset >= 13)
      const n = node.attrs.chunks as number;
      const [dim] = ctx.emit('Shape', [ctx.name(x)], { start: axis, end: axis + 1 });
      const [part] = ctx.emit('Div', [dim, ctx.constInt64([n])]);
      const [splitSizes] = ctx.emit('Expand', [part, ctx.constInt64([n])]);
      ctx.emit('Split', [ctx.name(x), splitSizes], { axis }, outs);
    } else {
      const parts = sizes.map((s, i) =>
        typeof s === 'number'
          ? ctx.constInt64([s])
          : ctx.emit('Shape', [ctx.name(likes[i])], { start: axis, end: axis + 1 })[0],
      );
      const [splitSizes] = ctx.emit('Concat', parts, { axis: 0 });
      ctx.emit('Split', [ctx.name(x), splitSizes], { axis }, outs);
    }
  },
  vjp(node, gs) {
    const axis = node.attrs.axis as number;
    const parts = node.outputs.map((o, i) => gs[i] ?? broadcastTo(scalarConst(0), o.shape, o));
    return [concatAs(parts, axis, node.inputs[0].shape[axis]), ...node.inputs.slice(1).map(() => null)];
  },
});

/**
 * Split `x` along `axis` into parts of the given sizes (torch.split with a list). A symbolic size
 * needs `likes`: one value per part whose dimension `axis` has that part's size.
 */
export function split(x: Value, sizes: readonly Dim[], axis = 0, likes?: Value[]): Value[] {
  const ax = checkAxis('split', x, axis);
  const symbolic = sizes.some((s) => typeof s === 'string');
  return applyOp('split', symbolic && likes ? [x, ...likes] : [x], { sizes: [...sizes], axis: ax });
}

/**
 * Split `x` along `axis` into `n` equal parts (torch.chunk when the size divides evenly).
 * A symbolic dimension 'a+a+...' (n times, as made by concat) gives parts 'a'; another symbolic
 * dimension d gives parts named 'd/n' and must be divisible by n at run time.
 */
export function chunk(x: Value, n: number, axis = 0): Value[] {
  return applyOp('split', [x], { chunks: n, axis: checkAxis('chunk', x, axis) });
}
