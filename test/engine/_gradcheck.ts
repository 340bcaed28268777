/**
 * Test helpers for ops: deterministic inputs, running a traced function, and checking its
 * reverse-mode gradient against central finite differences and against PyTorch fixtures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  NDArray,
  type Value,
  compile,
  constant,
  grad,
  mul,
  sum,
  trace,
  type InputSpec,
  type Shape,
} from '../../src/engine/index.ts';

/** Deterministic pseudo-random values in [lo, hi) (a test-only LCG, not library code). */
export function testData(shape: readonly number[], seed = 1, lo = -1, hi = 1): NDArray {
  const a = new NDArray(shape);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < a.size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a.data[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return a;
}

export type OpFn = (...xs: Value[]) => Value;

/** Run fn on concrete inputs. */
export async function runFn(fn: OpFn, inputs: NDArray[], shapes?: Shape[]): Promise<NDArray> {
  const specs: InputSpec[] = inputs.map((a, i) => ({ name: `x${i}`, shape: shapes?.[i] ?? a.shape }));
  const f = await compile(trace(fn, specs));
  return (await f.run(inputs))[0];
}

/**
 * Output of fn and the gradients of sum(fn(...) * cot) w.r.t. the inputs listed in `wrt`
 * (computed by our autodiff through ONNX Runtime).
 */
export async function vjpOf(
  fn: OpFn,
  inputs: NDArray[],
  cot: NDArray,
  wrt: number[],
): Promise<{ out: NDArray; grads: NDArray[] }> {
  const specs: InputSpec[] = inputs.map((a, i) => ({ name: `x${i}`, shape: a.shape }));
  const g = trace((...xs: Value[]) => {
    const y = fn(...xs);
    const loss = sum(mul(y, constant(cot)));
    return [
      y,
      ...grad(
        loss,
        wrt.map((i) => xs[i]),
      ),
    ];
  }, specs);
  const [out, ...grads] = await (await compile(g)).run(inputs);
  return { out, grads };
}

/** Central finite differences of sum(fn(...) * cot) w.r.t. input `k`, evaluated by ONNX Runtime. */
export async function finiteDiff(fn: OpFn, inputs: NDArray[], cot: NDArray, k: number, eps = 1e-2): Promise<NDArray> {
  const specs: InputSpec[] = inputs.map((a, i) => ({ name: `x${i}`, shape: a.shape }));
  const f = await compile(trace((...xs: Value[]) => sum(mul(fn(...xs), constant(cot))), specs));
  const out = new NDArray(inputs[k].shape);
  const x = inputs[k].clone();
  const feeds = inputs.slice();
  feeds[k] = x;
  for (let i = 0; i < x.size; i++) {
    const orig = x.data[i];
    x.data[i] = orig + eps;
    const fp = (await f.run(feeds))[0].data[0];
    x.data[i] = orig - eps;
    const fm = (await f.run(feeds))[0].data[0];
    x.data[i] = orig;
    // the perturbation actually applied, in float32
    const h = Math.fround(orig + eps) - Math.fround(orig - eps);
    out.data[i] = (fp - fm) / h;
  }
  return out;
}

/** Assert |a - b| <= atol + rtol |b| elementwise, with a helpful message. */
export function assertClose(
  a: NDArray | Float32Array | number[],
  b: NDArray | Float32Array | number[],
  rtol = 1e-5,
  atol = 1e-6,
  what = 'values',
): void {
  const x = a instanceof NDArray ? a.data : a;
  const y = b instanceof NDArray ? b.data : b;
  assert.equal(x.length, y.length, `${what}: length ${x.length} vs ${y.length}`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < x.length; i++) {
    const err = Math.abs(x[i] - y[i]) - (atol + rtol * Math.abs(y[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0)
    assert.fail(`${what}: element ${worst}: got ${x[worst]}, expected ${y[worst]} (rtol ${rtol}, atol ${atol})`);
}

/**
 * Check the gradient of fn w.r.t. each input in `wrt` against central finite differences.
 * Inputs should keep away from kinks (e.g. relu at 0) by more than `eps`.
 */
export async function gradcheck(
  fn: OpFn,
  inputs: NDArray[],
  wrt: number[] = inputs.map((_, i) => i),
  opts: { eps?: number; rtol?: number; atol?: number; seed?: number } = {},
): Promise<void> {
  const probe = await runFn(fn, inputs);
  const cot = testData(probe.shape, opts.seed ?? 7);
  const { grads } = await vjpOf(fn, inputs, cot, wrt);
  for (let j = 0; j < wrt.length; j++) {
    const fd = await finiteDiff(fn, inputs, cot, wrt[j], opts.eps ?? 1e-2);
    assertClose(
      grads[j],
      fd,
      opts.rtol ?? 2e-2,
      opts.atol ?? 2e-3,
      `gradient w.r.t. input ${wrt[j]} vs finite differences`,
    );
  }
}

/** A case of test/fixtures/ops/<file>.json, produced by tools/fixtures/ops_torch.py. */
export interface TorchCase {
  name: string;
  inputs: { shape: number[]; data: number[] }[];
  cotangent: { shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
  grads: ({ shape: number[]; data: number[] } | null)[];
  attrs?: Record<string, unknown>;
}

export function loadTorchCases(file: string): TorchCase[] {
  const path = fileURLToPath(new URL(`../fixtures/ops/${file}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')).cases as TorchCase[];
}

export const nd = (t: { shape: number[]; data: number[] }): NDArray => new NDArray(t.shape, t.data);

/** Compare fn's output and VJP with a PyTorch fixture case. */
export async function checkTorchCase(fn: OpFn, c: TorchCase, rtol = 1e-4, atol = 1e-5): Promise<void> {
  const inputs = c.inputs.map(nd);
  const wrt = c.grads.map((g, i) => (g ? i : -1)).filter((i) => i >= 0);
  const { out, grads } = await vjpOf(fn, inputs, nd(c.cotangent), wrt);
  assert.deepEqual([...out.shape], c.output.shape, `${c.name}: output shape`);
  assertClose(out, c.output.data, rtol, atol, `${c.name}: output vs PyTorch`);
  wrt.forEach((i, j) =>
    assertClose(grads[j], c.grads[i]!.data, rtol, atol, `${c.name}: grad of input ${i} vs PyTorch`),
  );
}
