/**
 * Loader for the fixtures written by tools/fixtures/unet_torch.py: a JSON index plus a raw
 * little-endian float32 .bin (test/fixtures/models/<case>.json / .bin).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NDArray } from '../../src/engine/index.ts';

export interface ModelFixture {
  source: string;
  config: Record<string, unknown>;
  param_names: string[];
  param_shapes?: Record<string, number[]>;
  num_parameters?: number;
  grad_params?: string[];
  formula_weights?: { rule: string; params: Record<string, { offset: number; scale: number; index: number }> };
  cases?: Record<string, unknown>[];
  tensors: Record<string, { shape: number[]; offset: number; length: number }>;
  /** Tensor by name. */
  get(name: string): NDArray;
  /** All tensors whose names start with `prefix`, keyed by the rest of the name. */
  group(prefix: string): Record<string, NDArray>;
}

export function loadModelFixture(name: string): ModelFixture {
  const dir = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
  const doc = JSON.parse(readFileSync(dir + name + '.json', 'utf8')) as ModelFixture & { bin: string };
  const buf = readFileSync(dir + doc.bin);
  const all = new Float32Array(buf.byteLength / 4);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < all.length; i++) all[i] = dv.getFloat32(4 * i, true);
  const get = (n: string): NDArray => {
    const t = doc.tensors[n];
    if (!t) throw new Error(`fixture ${name}: no tensor '${n}'`);
    return new NDArray(t.shape, all.slice(t.offset, t.offset + t.length));
  };
  const group = (prefix: string): Record<string, NDArray> =>
    Object.fromEntries(
      Object.keys(doc.tensors)
        .filter((k) => k.startsWith(prefix))
        .map((k) => [k.slice(prefix.length), get(k)]),
    );
  return { ...doc, get, group };
}

/** Max |a - b| / (atol + rtol |b|) <= 1 elementwise, with a message naming the worst element. */
export function assertAllClose(a: NDArray, b: NDArray, what: string, rtol = 1e-4, atol = 1e-5): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shape [${a.shape.join(', ')}] vs expected [${b.shape.join(', ')}]`);
  }
  let worst = 0,
    wi = -1;
  for (let i = 0; i < a.size; i++) {
    const r = Math.abs(a.data[i] - b.data[i]) / (atol + rtol * Math.abs(b.data[i]));
    if (!(r <= worst)) {
      worst = r;
      wi = i;
    }
  }
  if (!(worst <= 1)) {
    throw new Error(
      `${what}: element ${wi} is ${a.data[wi]}, expected ${b.data[wi]} (|diff| ${Math.abs(a.data[wi] - b.data[wi]).toExponential(2)}, rtol ${rtol}, atol ${atol})`,
    );
  }
}

import { compile, constant, grad, mul, sum, trace, type InputSpec, type Value } from '../../src/engine/index.ts';
import { withParams, type Module } from '../../src/nn/module.ts';

/**
 * Trace `forward(...inputs)` with the module's parameters as graph inputs, and return its output and
 * the gradients of sum(out * cot) w.r.t. the named parameters / inputs in `wrt` (names of inputs are
 * the keys of `inputs`; parameters are referred to by their dotted names).
 */
export async function forwardWithGrads(
  model: Module,
  params: Record<string, NDArray>,
  inputs: Record<string, NDArray>,
  forward: (xs: Record<string, Value>) => Value,
  cot: NDArray | null,
  wrt: string[],
): Promise<{ out: NDArray; grads: Record<string, NDArray> }> {
  const pNames = model.namedParameters().map(([n]) => n);
  const iNames = Object.keys(inputs);
  const specs: InputSpec[] = [
    ...iNames.map((n) => ({ name: n, shape: inputs[n].shape })),
    ...pNames.map((n) => ({ name: `param.${n}`, shape: params[n].shape })),
  ];
  const g = trace((...vs: Value[]) => {
    const xs = Object.fromEntries(iNames.map((n, i) => [n, vs[i]]));
    const ps = Object.fromEntries(pNames.map((n, i) => [n, vs[iNames.length + i]]));
    const out = withParams(model, ps, () => forward(xs));
    if (!cot) return [out];
    const targets = wrt.map((n) => xs[n] ?? ps[n]);
    return [out, ...grad(sum(mul(out, constant(cot))), targets)];
  }, specs);
  const feeds: Record<string, NDArray> = { ...inputs };
  for (const n of pNames) feeds[`param.${n}`] = params[n];
  const [out, ...gs] = await (await compile(g)).run(feeds);
  return { out, grads: Object.fromEntries(wrt.map((n, i) => [n, gs[i]])) };
}
