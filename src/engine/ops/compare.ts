/**
 * Comparisons greater, less, equal, greaterEqual, lessEqual: elementwise with numpy broadcasting,
 * producing bool (ONNX Greater, Less, Equal, GreaterOrEqual, LessOrEqual). Not differentiable:
 * their VJP returns none. A number operand becomes a scalar constant of the other operand's dtype.
 *
 * @example
 *   const inside = greaterEqual(x, 0);          // bool, shape of x
 *   const y = where(inside, x, mul(x, 0.01));   // leaky relu
 */
import { apply1, constantInt64, registerOp, scalarConst, type Operand } from '../trace.ts';
import { Value } from '../graph.ts';
import { inferBroadcast } from './_util.ts';

const ONNX_OP = {
  greater: 'Greater',
  less: 'Less',
  equal: 'Equal',
  greater_equal: 'GreaterOrEqual',
  less_equal: 'LessOrEqual',
} as const;

type CompareOp = keyof typeof ONNX_OP;

for (const [name, onnxOp] of Object.entries(ONNX_OP)) {
  registerOp({
    name,
    infer(inputs) {
      if (inputs.length !== 2) throw new Error(`expected 2 inputs, got ${inputs.length}`);
      for (const v of inputs)
        if (v.dtype === 'bool' && name !== 'equal')
          throw new Error(`cannot order bool values (allowed dtypes: float32, int64)`);
      return [{ shape: inferBroadcast(inputs)[0].shape, dtype: 'bool' }];
    },
    lower: (ctx, node) => {
      ctx.emit(
        onnxOp,
        node.inputs.map((v) => ctx.name(v)),
        {},
        ctx.outputs(node),
      );
    },
    vjp: () => [null, null],
  });
}

/**
 * Turn number operands into scalar constants of the dtype of the Value operand (float32 by default),
 * so that `greater(indices, 0)` works for int64 indices.
 */
export function toOperands(what: string, ops: Operand[]): Value[] {
  const like = ops.find((o): o is Value => o instanceof Value);
  return ops.map((o) => {
    if (o instanceof Value) return o;
    if (like?.dtype === 'int64') {
      if (!Number.isInteger(o))
        throw new Error(`${what}: the number ${o} is compared with an int64 value; it must be an integer`);
      return constantInt64([o], []);
    }
    if (like?.dtype === 'bool')
      throw new Error(`${what}: a number cannot be combined with a bool value; cast() it first`);
    return scalarConst(o);
  });
}

function compare(op: CompareOp, a: Operand, b: Operand): Value {
  return apply1(op, toOperands(op, [a, b]));
}

/** Elementwise a > b (bool). */
export function greater(a: Operand, b: Operand): Value {
  return compare('greater', a, b);
}
/** Elementwise a < b (bool). */
export function less(a: Operand, b: Operand): Value {
  return compare('less', a, b);
}
/** Elementwise a == b (bool). */
export function equal(a: Operand, b: Operand): Value {
  return compare('equal', a, b);
}
/** Elementwise a >= b (bool). */
export function greaterEqual(a: Operand, b: Operand): Value {
  return compare('greater_equal', a, b);
}
/** Elementwise a <= b (bool). */
export function lessEqual(a: Operand, b: Operand): Value {
  return compare('less_equal', a, b);
}
