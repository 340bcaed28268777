/**
 * Reader of the expected.json / expected.bin written by tools/fixtures/diffusers_unet2d.py beside each
 * diffusers pipeline folder (test/fixtures/diffusers_unet2d/<case>/).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';

export interface UNetExpected {
  family: string;
  case: string;
  config: Record<string, unknown>;
  sampler: 'ddim' | 've_ode';
  steps: number;
  num_parameters: number;
  fp32_vs_fp64: { forward: number; sampling: number };
  tensors: Record<string, { shape: number[]; offset: number; length: number }>;
  get(name: string): NDArray;
}

export function loadExpected(dir: string): UNetExpected {
  const doc = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as UNetExpected & { bin: string };
  const buf = readFileSync(path.join(dir, doc.bin));
  const all = new Float32Array(buf.byteLength / 4);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < all.length; i++) all[i] = dv.getFloat32(4 * i, true);
  const get = (n: string): NDArray => {
    const t = doc.tensors[n];
    if (!t) throw new Error(`${dir}: no tensor '${n}'`);
    return new NDArray(t.shape, all.slice(t.offset, t.offset + t.length));
  };
  return { ...doc, get };
}

export function maxAbsDiff(a: NDArray, b: NDArray): number {
  if (a.size !== b.size) throw new Error(`size ${a.size} vs ${b.size}`);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return Number.isNaN(m) ? Infinity : m;
}

export function maxAbs(a: NDArray): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]));
  return m;
}
