/**
 * Shared checks for the op tests: all PyTorch cases of a fixture file, symbolic-dimension runs
 * compared with static ones, and bad-input errors.
 */
import assert from 'node:assert/strict';
import { type NDArray, compile, grad, mul, sum, trace, type Shape, type Value } from '../../../src/engine/index.ts';
import {
  assertClose,
  checkTorchCase,
  gradcheck,
  loadTorchCases,
  runFn,
  testData,
  vjpOf,
  type OpFn,
  type TorchCase,
} from '../_gradcheck.ts';

/** Check every case of test/fixtures/ops/<file> (output and VJP) against PyTorch. */
export async function checkTorchFile(
  file: string,
  makeFn: (c: TorchCase) => OpFn,
  rtol = 1e-4,
  atol = 1e-5,
): Promise<number> {
  const cases = loadTorchCases(file);
  assert.ok(cases.length > 0, `${file} has no cases`);
  for (const c of cases) await checkTorchCase(makeFn(c), c, rtol, atol);
  return cases.length;
}

/**
 * Trace fn (output and the VJP of sum(out * cot) w.r.t. `wrt`) with the symbolic input shapes
 * `shapes`, run it on concrete `inputs`, and compare with the same computation traced with static
 * shapes. Returns the symbolic output shape (so a test can assert it stayed symbolic).
 */
export async function checkSymbolic(
  fn: OpFn,
  inputs: NDArray[],
  shapes: Shape[],
  wrt: number[] = inputs.map((_, i) => i),
): Promise<Shape> {
  const specs = shapes.map((shape, i) => ({ name: `x${i}`, shape }));
  const outShape = trace(fn, specs).outputs[0].shape;
  const staticOut = await runFn(fn, inputs);
  const cot = testData(staticOut.shape, 11);
  const g = trace(
    (...xs: Value[]) => {
      const ins = xs.slice(0, -1),
        c = xs[xs.length - 1];
      const y = fn(...ins);
      return [
        y,
        ...grad(
          sum(mul(y, c)),
          wrt.map((i) => ins[i]),
        ),
      ];
    },
    [...specs, { name: 'cot', shape: outShape }],
  );
  const [out, ...grads] = await (await compile(g)).run([...inputs, cot]);
  const ref = await vjpOf(fn, inputs, cot, wrt);
  assert.deepEqual([...out.shape], [...ref.out.shape], 'symbolic vs static output shape');
  assertClose(out, ref.out, 1e-6, 1e-6, 'symbolic vs static output');
  grads.forEach((gr, j) => assertClose(gr, ref.grads[j], 1e-5, 1e-6, `symbolic vs static gradient of input ${wrt[j]}`));
  return outShape;
}

/** Elementwise reference: apply a scalar JS function. */
export function mapRef(x: NDArray, f: (v: number) => number): Float32Array {
  return Float32Array.from(x.data, f);
}

/**
 * Assert that tracing `fn` on `specs` throws an error whose message contains the op name, every
 * pattern, and the calling site (a file under test/engine/).
 */
export function assertTraceError(
  fn: (...xs: Value[]) => Value | Value[],
  specs: { name: string; shape: Shape; dtype?: 'float32' | 'int64' | 'bool' }[],
  op: string,
  ...patterns: (string | RegExp)[]
): void {
  assert.throws(
    () => trace(fn, specs),
    (e: Error) => {
      const m = e.message;
      assert.ok(m.startsWith(`${op}:`) || m.includes(`${op}:`), `error should name '${op}': ${m}`);
      for (const p of patterns) {
        assert.ok(typeof p === 'string' ? m.includes(p) : p.test(m), `error should mention ${p}: ${m}`);
      }
      assert.ok(
        /called at \S*test[/\\]engine[/\\]\S+\.ts:\d+/.test(m),
        `error should name the calling site in the tests: ${m}`,
      );
      return true;
    },
  );
}

export interface UnarySuite {
  /** Op name as in errors and fixture file (<name>.json). */
  name: string;
  fn: OpFn;
  /** Scalar reference (a closed form) for the forward test. */
  ref: (v: number) => number;
  /** Input range for the forward and symbolic tests. */
  domain: [number, number];
  /** Input transform for the gradient check, to keep away from kinks (default identity). */
  awayFromKinks?: (v: number) => number;
  rtol?: number;
  atol?: number;
  /** Finite-difference tolerances. */
  fd?: { rtol?: number; atol?: number; eps?: number };
}

/**
 * The standard checks of a unary float op: forward vs a closed form, gradient vs finite differences,
 * forward + VJP vs PyTorch (test/fixtures/ops/<name>.json), symbolic batch vs static, int64 input rejected.
 */
export function unaryOpSuite(test: typeof import('node:test').test, s: UnarySuite): void {
  const [lo, hi] = s.domain;
  test(`${s.name} forward equals its closed form`, async () => {
    const x = testData([4, 7], 1, lo, hi);
    assertClose(await runFn(s.fn, [x]), mapRef(x, s.ref), s.rtol ?? 1e-5, s.atol ?? 1e-6, `${s.name} vs closed form`);
  });
  test(`${s.name} gradient matches finite differences`, async () => {
    const x = testData([2, 5], 2, lo, hi);
    if (s.awayFromKinks) x.data.set(x.data.map(s.awayFromKinks));
    await gradcheck(s.fn, [x], [0], s.fd);
  });
  test(`${s.name} forward and VJP match PyTorch`, async () => {
    await checkTorchFile(`${s.name}.json`, () => s.fn);
  });
  test(`${s.name} with a symbolic batch dimension equals the static graph`, async () => {
    for (const n of [1, 3]) {
      const shape = await checkSymbolic(s.fn, [testData([n, 4], 10 + n, lo, hi)], [['batch', 4]]);
      assert.deepEqual([...shape], ['batch', 4]);
    }
  });
  test(`${s.name} rejects an int64 input, naming the op and the shape`, () => {
    assertTraceError(s.fn, [{ name: 'i', shape: [2, 3], dtype: 'int64' }], s.name, 'int64', '[2, 3]');
  });
}
