/**
 * Weights of model folders: F16, BF16, F64 and sharded F32 folders written by torch (fixture
 * tools/fixtures/folders_weights.py, byte by byte from the format) read to exactly the float32 values
 * torch decodes; float32 -> float16 rounding equals torch's `.half()`; fp16 writing round-trips;
 * bad folders give one-line errors naming the file (unsupported dtype, .bin only, broken shard index).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import { float32ToFloat16Bits, float16ToNumber, serializeSafetensors } from '../../src/io/safetensors.ts';
import {
  loadPipelineFolder,
  locateWeights,
  readWeights,
  serializeWeights,
  writeWeights,
  parseWeightsDtype,
} from '../../src/folders/index.ts';
import { setWarningHandler } from '../../src/io/warn.ts';

const FIX = new URL('../fixtures/folders/', import.meta.url).pathname;
const ref = JSON.parse(fs.readFileSync(path.join(FIX, 'mlp-reference.json'), 'utf8')) as Record<
  string,
  Record<string, string[]>
>;
const bitsOf = (a: Float32Array) =>
  Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b) => b.toString(16).padStart(8, '0'));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-weights-'));
const quiet = <T>(fn: () => T): T => {
  const prev = setWarningHandler(() => {});
  try {
    return fn();
  } finally {
    setWarningHandler(prev);
  }
};

for (const [name, dtype] of [
  ['mlp-f16', 'F16'],
  ['mlp-bf16', 'BF16'],
  ['mlp-f64', 'F64'],
  ['mlp-sharded', 'F32'],
] as const) {
  test(`${name}: weights stored as ${dtype} read to the float32 values torch decodes (bit-exact)`, () => {
    const w = readWeights(path.join(FIX, name));
    assert.deepEqual(w.dtypes, [dtype]);
    assert.equal(w.files.length, name === 'mlp-sharded' ? 2 : 1);
    assert.deepEqual(Object.keys(w.weights).sort(), Object.keys(ref[name]).sort());
    for (const [k, want] of Object.entries(ref[name]))
      assert.deepEqual(bitsOf(w.weights[k].data as Float32Array), want, `${name} ${k}`);
    // and as a model: config + weights check out (a bare folder: the default scheduler, with a warning)
    const warnings: string[] = [];
    const prev = setWarningHandler((m) => warnings.push(m));
    try {
      const m = loadPipelineFolder(path.join(FIX, name));
      assert.equal(m.folder!.layout.kind, 'model');
      assert.equal(m.schedulerConfig._class_name, 'DDPMScheduler');
      assert.match(
        warnings.join('\n'),
        /no scheduler config; using the default DDPMScheduler \(linear betas 0\.0001\.\.0\.02, 1000 steps/,
      );
    } finally {
      setWarningHandler(prev);
    }
  });
}

test('float32 -> float16 rounding equals torch .half() on 1,800+ values (ties to even, subnormals, overflow, NaN)', () => {
  const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'f16_round.json'), 'utf8')) as { f32: string[]; f16: string[] };
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer);
  let ties = 0;
  for (let i = 0; i < fx.f32.length; i++) {
    u[0] = parseInt(fx.f32[i], 16);
    const got = float32ToFloat16Bits(f[0]).toString(16).padStart(4, '0');
    assert.equal(got, fx.f16[i], `float32 ${f[0]} (0x${fx.f32[i]})`);
    if (Math.fround(float16ToNumber(parseInt(got, 16))) !== f[0]) ties += 1;
  }
  assert.ok(fx.f32.length > 1800 && ties > 1000, `${fx.f32.length} values, ${ties} inexact`);
});

test('write fp16 (on request) and fp32 (default): round trip, F16 on disk, overflow refused naming the weight', () => {
  const dir = tmp();
  try {
    const w = {
      a: NDArray.from([1, -2.5, 0.1, 65504]),
      b: new NDArray([2, 2], Float32Array.from([3e-8, 1 / 3, -7, 1e-3])),
    };
    writeWeights(dir, w, { dtype: 'float16', metadata: { step: '7' } });
    const back = readWeights(dir);
    assert.deepEqual(back.dtypes, ['F16']);
    for (const [k, v] of Object.entries(w)) {
      assert.deepEqual(
        Array.from(back.weights[k].data),
        Array.from(v.data, (x) => float16ToNumber(float32ToFloat16Bits(x))),
        k,
      );
    }
    assert.equal(
      fs.statSync(path.join(dir, 'diffusion_pytorch_model.safetensors')).size < serializeWeights(w).length,
      true,
    );
    writeWeights(dir, w);
    assert.deepEqual(readWeights(dir).dtypes, ['F32']);
    assert.deepEqual(Array.from(readWeights(dir).weights.b.data), Array.from(w.b.data));
    assert.throws(
      () => serializeWeights({ big: NDArray.from([1, 70000]) }, { dtype: 'float16' }),
      /^Error: --dtype fp16: weight "big"\[1\] = 70000 overflows float16 \(largest 65504\); keep fp32$/,
    );
    assert.equal(parseWeightsDtype('fp16'), 'float16');
    assert.throws(() => parseWeightsDtype('int8'), /^Error: --dtype int8 is invalid: expected fp32 or fp16$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad weights: one line naming the file (unsupported dtype, .bin only, no weights, broken shard index, variants)', () => {
  const dir = tmp();
  const oneLine = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: Error) => {
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), e.message);
      return true;
    });
  try {
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [4], time_embedding_dim: 4 }),
    );
    oneLine(
      () => readWeights(dir),
      /: no model weights \(expected diffusion_pytorch_model\.safetensors or a sharded diffusion_pytorch_model\.safetensors\.index\.json\)$/,
    );
    fs.writeFileSync(path.join(dir, 'diffusion_pytorch_model.bin'), 'PK\x03\x04 a pickle that must never be opened');
    oneLine(
      () => quiet(() => loadPipelineFolder(dir)),
      /only PyTorch pickle weights \(diffusion_pytorch_model\.bin\); diffuse never unpickles \(a pickle can run code\): convert them to safetensors/,
    );
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.safetensors'),
      serializeSafetensors({ w: { dtype: 'I64', shape: [1], data: new BigInt64Array([1n]) } }),
    );
    oneLine(
      () => readWeights(dir),
      /diffusion_pytorch_model\.safetensors: tensor "w" has dtype I64; model weights must be F16, BF16, F32, F64$/,
    );
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.safetensors'),
      serializeSafetensors({ w: { dtype: 'F8_E4M3', shape: [1], data: new Uint8Array([1]) } }),
    );
    oneLine(() => readWeights(dir), /has dtype F8_E4M3; model weights must be F16, BF16, F32, F64$/);
    fs.rmSync(path.join(dir, 'diffusion_pytorch_model.safetensors'));
    const index = path.join(dir, 'diffusion_pytorch_model.safetensors.index.json');
    fs.writeFileSync(index, JSON.stringify({ weight_map: { w: '../elsewhere.safetensors' } }));
    oneLine(
      () => readWeights(dir),
      /index\.json: weight_map\["w"\] = "\.\.\/elsewhere\.safetensors" is invalid: expected a \.safetensors file name in the same folder$/,
    );
    fs.writeFileSync(index, JSON.stringify({ weight_map: { w: 'part-1.safetensors', v: 'part-1.safetensors' } }));
    oneLine(
      () => readWeights(dir),
      /index\.json: shard part-1\.safetensors \(holding "w" and 1 more\) does not exist$/,
    );
    fs.writeFileSync(path.join(dir, 'part-1.safetensors'), serializeSafetensors({ w: NDArray.from([1]) }));
    oneLine(
      () => readWeights(dir),
      /index\.json: tensor "v" is mapped to part-1\.safetensors, which does not hold it$/,
    );
    fs.writeFileSync(index, JSON.stringify({ weight_map: [] }));
    oneLine(() => readWeights(dir), /index\.json: weight_map = \[\] is invalid/);
    fs.rmSync(index);
    // variants: one is picked, several need a choice
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.fp16.safetensors'),
      serializeSafetensors({ w: NDArray.from([1]) }),
    );
    assert.equal(locateWeights(dir).variant, 'fp16');
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.ema.safetensors'),
      serializeSafetensors({ w: NDArray.from([1]) }),
    );
    oneLine(
      () => locateWeights(dir),
      /no diffusion_pytorch_model\.safetensors, and several variants \((fp16, ema|ema, fp16)\); pick one with --variant$/,
    );
    assert.equal(locateWeights(dir, 'ema').variant, 'ema');
    // a sharded variant, named as diffusers names it (index diffusion_pytorch_model.safetensors.index.<v>.json)
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.safetensors')) fs.rmSync(path.join(dir, f));
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.bf16-00001-of-00001.safetensors'),
      serializeSafetensors({ w: NDArray.from([2]) }),
    );
    fs.writeFileSync(
      path.join(dir, 'diffusion_pytorch_model.safetensors.index.bf16.json'),
      JSON.stringify({ weight_map: { w: 'diffusion_pytorch_model.bf16-00001-of-00001.safetensors' } }),
    );
    assert.deepEqual(locateWeights(dir), {
      kind: 'sharded',
      file: path.join(dir, 'diffusion_pytorch_model.safetensors.index.bf16.json'),
      variant: 'bf16',
    });
    assert.deepEqual(Array.from(readWeights(dir).weights.w.data), [2]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
