import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import {
  SafetensorsError,
  float16ToNumber,
  float8E4M3ToNumber,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsErrorCode,
} from '../../src/io/safetensors.ts';

const FIX = path.join(import.meta.dirname, '..', 'fixtures', 'io');

/** Builds a file from a header string and data bytes exactly as the format defines it (no padding). */
function build(header: string, data: Uint8Array | number[] = []): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function throwsCode(fn: () => unknown, code: SafetensorsErrorCode, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof SafetensorsError,
      `expected SafetensorsError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
    );
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('parses the example file of the reference implementation (safetensors/src/tensor.rs doc example)', () => {
  // b"<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}" + 16 zero bytes
  const bytes = build('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Array(16).fill(0));
  assert.equal(bytes[0], 0x3c); // '<' = 60, the header length of the doc example
  const f = parseSafetensors(bytes);
  assert.deepEqual(f.names(), ['test']);
  assert.deepEqual(f.entry('test'), { name: 'test', dtype: 'I32', shape: [2, 2], dataOffsets: [0, 16] });
  assert.deepEqual(f.ndarray('test').toArray(), [0, 0, 0, 0]);
  assert.equal(f.metadata.size, 0);
});

test('reads the hand-built reference file (tools/fixtures/io_safetensors.py): all dtypes, unaligned data, metadata', () => {
  const exp = JSON.parse(fs.readFileSync(path.join(FIX, 'reference.json'), 'utf8'));
  const f = readSafetensors(path.join(FIX, 'reference.safetensors'));
  assert.equal(f.headerLength, exp.headerLength);
  assert.equal(f.headerLength % 2, 1, 'fixture header is odd-length, so the F32 data is unaligned');
  assert.deepEqual(f.names(), exp.order);
  assert.deepEqual(Object.fromEntries(f.metadata), exp.metadata);
  for (const [name, t] of Object.entries<{ dtype: string; shape: number[]; offsets: number[]; values: number[] }>(
    exp.tensors,
  )) {
    const e = f.entry(name);
    assert.equal(e.dtype, t.dtype, name);
    assert.deepEqual(e.shape, t.shape, name);
    assert.deepEqual(e.dataOffsets, t.offsets, name);
    const got = f.ndarray(name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.deepEqual(got.toArray(), t.values.map(Math.fround), name);
  }
  assert.equal(f.bigint64('step')[0], BigInt(exp.tensors.step.exact));
  const h = readSafetensorsHeader(path.join(FIX, 'reference.safetensors'));
  assert.deepEqual([...h.entries.keys()], exp.order);
  assert.equal(h.dataLength, exp.fileSize - 8 - exp.headerLength);
});

test('F16 and BF16 decoding equals torch for 1,000+ bit patterns (fixture float_bits.json)', () => {
  const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'float_bits.json'), 'utf8'));
  const num = (v: number | string) => (typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v);
  const bits: number[] = fx.bits;
  const mk = (dtype: string) => {
    const data = new Uint16Array(bits);
    return parseSafetensors(serializeSafetensors({ x: { dtype: dtype as 'F16', shape: [bits.length], data } }))
      .ndarray('x')
      .toArray();
  };
  const f16 = mk('F16'),
    b16 = mk('BF16');
  for (let i = 0; i < bits.length; i++) {
    assert.ok(
      Object.is(f16[i], Math.fround(num(fx.F16[i]))) || (Number.isNaN(f16[i]) && Number.isNaN(num(fx.F16[i]))),
      `F16 0x${bits[i].toString(16)}: ${f16[i]} vs ${fx.F16[i]}`,
    );
    assert.ok(
      Object.is(b16[i], Math.fround(num(fx.BF16[i]))) || (Number.isNaN(b16[i]) && Number.isNaN(num(fx.BF16[i]))),
      `BF16 0x${bits[i].toString(16)}: ${b16[i]} vs ${fx.BF16[i]}`,
    );
  }
  assert.equal(float16ToNumber(0x7bff), 65504); // IEEE 754 binary16 max
});

test('F8 decoding follows the OCP FP8 spec table (E4M3 max 448, NaN S.1111.111; E5M2 max 57344, inf)', () => {
  assert.equal(float8E4M3ToNumber(0x7e), 448);
  assert.equal(float8E4M3ToNumber(0x38), 1);
  assert.equal(float8E4M3ToNumber(0xb8), -1);
  assert.equal(float8E4M3ToNumber(0x01), 2 ** -9);
  assert.equal(float8E4M3ToNumber(0x08), 2 ** -6);
  assert.ok(Number.isNaN(float8E4M3ToNumber(0x7f)) && Number.isNaN(float8E4M3ToNumber(0xff)));
  const f = parseSafetensors(
    serializeSafetensors({ e5: { dtype: 'F8_E5M2', shape: [4], data: new Uint8Array([0x7b, 0x7c, 0x3c, 0x01]) } }),
  );
  assert.deepEqual(f.ndarray('e5').toArray(), [57344, Infinity, 1, 2 ** -16]);
});

test('writer: reference layout (sorted by dtype size then name, header padded with spaces to 8 bytes), round trip', () => {
  const w = new NDArray([2, 3], [1, 2, 3, 4, 5, 6]);
  const bytes = serializeSafetensors(
    {
      'b.weight': w,
      'a.step': { dtype: 'I64', shape: [], data: new BigInt64Array([-5n]) },
      'a.bias': NDArray.from([0.5, -0.5]),
    },
    { format: 'pt' },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const headerText = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a.step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},' +
    '"a.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
    '"b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]}}';
  assert.equal(headerText, json + ' '.repeat(n - json.length));
  assert.equal(bytes.length, 8 + n + 40);
  const f = parseSafetensors(bytes);
  assert.deepEqual(f.ndarray('b.weight').toArray(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(f.ndarray('b.weight').shape, [2, 3]);
  assert.equal(f.bigint64('a.step')[0], -5n);
  assert.equal(f.metadata.get('format'), 'pt');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  const p = path.join(dir, 'm.safetensors');
  writeSafetensors(p, new Map([['x', w]]));
  assert.deepEqual(readSafetensors(p).ndarray('x').toArray(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
  fs.rmSync(dir, { recursive: true });
});

test('writer rejects bad input with the tensor name', () => {
  throwsCode(() => serializeSafetensors({ __metadata__: NDArray.ones([1]) }), 'BAD_INPUT', /__metadata__/);
  throwsCode(
    () => serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: new Float32Array(1) } }),
    'BAD_INPUT',
    /tensor "x".*BigInt64Array.*Float32Array/,
  );
  throwsCode(
    () => serializeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
    'BAD_INPUT',
    /need 12 bytes, data has 8/,
  );
  throwsCode(
    () => serializeSafetensors({ x: { dtype: 'Q4' as 'F32', shape: [1], data: new Float32Array(1) } }),
    'BAD_INPUT',
    /dtype "Q4" is not supported/,
  );
});

test('hostile headers: each gives a SafetensorsError with a precise message', () => {
  const ok = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const d4 = [0, 0, 128, 63];
  // header length 9e18 in a 1024-byte file
  const big = new Uint8Array(1024);
  new DataView(big.buffer).setBigUint64(0, 9_000_000_000_000_000_000n, true);
  throwsCode(
    () => parseSafetensors(big, { source: 'checkpoint ckpt/x.safetensors' }),
    'HEADER_EXCEEDS_FILE',
    /^checkpoint ckpt\/x\.safetensors: header length 9000000000000000000 exceeds file size 1024/,
  );
  throwsCode(() => parseSafetensors(new Uint8Array(5)), 'FILE_TOO_SMALL', /5 bytes/);
  throwsCode(
    () => parseSafetensors(build(ok, d4), { maxHeaderBytes: 16 }),
    'HEADER_TOO_LARGE',
    /exceeds the limit of 16 bytes/,
  );
  throwsCode(() => parseSafetensors(build('{}').subarray(0, 9)), 'HEADER_EXCEEDS_FILE');
  const badUtf8 = build('{"a":1}');
  badUtf8[10] = 0xff;
  throwsCode(() => parseSafetensors(badUtf8), 'HEADER_NOT_UTF8');
  throwsCode(() => parseSafetensors(build(' {}')), 'HEADER_START', /must start with '\{'/);
  throwsCode(() => parseSafetensors(build('[1]')), 'HEADER_START');
  throwsCode(() => parseSafetensors(build('{"a":')), 'HEADER_JSON', /not valid JSON/);
  throwsCode(() => parseSafetensors(build('{} x')), 'HEADER_JSON', /after the JSON value/);
  throwsCode(
    () =>
      parseSafetensors(
        build(
          '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}',
        ),
      ),
    'HEADER_JSON',
    /duplicate key "a"/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}')),
    'HEADER_JSON',
    /duplicate key "dtype"/,
  );
  throwsCode(
    () => parseSafetensors(build('{"__metadata__":{"k":1}}')),
    'BAD_METADATA',
    /__metadata__\["k"\] must be a string, got 1/,
  );
  throwsCode(() => parseSafetensors(build('{"__metadata__":[]}')), 'BAD_METADATA');
  throwsCode(() => parseSafetensors(build('{"a":[]}')), 'BAD_TENSOR_INFO', /tensor "a"/);
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', d4)),
    'BAD_TENSOR_INFO',
    /unknown key "x"/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1]}}', d4)),
    'BAD_TENSOR_INFO',
    /missing key "data_offsets"/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}', d4)),
    'BAD_DTYPE',
    /dtype "F31" is not supported \(allowed: BOOL, U8/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', d4)),
    'BAD_SHAPE',
    /shape\[0\] = -1/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', d4)),
    'BAD_SHAPE',
    /shape\[0\] = 1\.0/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1e2],"data_offsets":[0,4]}}', d4)),
    'BAD_SHAPE',
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[18446744073709551617],"data_offsets":[0,4]}}', d4)),
    'BAD_SHAPE',
    /18446744073709551617/,
  );
  // product overflows 2^64 (reference: ValidationOverflow); exact BigInt arithmetic here
  throwsCode(
    () =>
      parseSafetensors(
        build('{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}', d4),
      ),
    'SIZE_MISMATCH',
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', d4)),
    'BAD_OFFSETS',
    /begin > end/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', d4)),
    'BAD_OFFSETS',
    /run past the end of the data section \(4 bytes; truncated file\?\)/,
  );
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}', d4)),
    'BAD_OFFSETS',
  );
  throwsCode(() => parseSafetensors(build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', d4)), 'BAD_OFFSETS');
  throwsCode(
    () => parseSafetensors(build('{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,4]}}', d4)),
    'SIZE_MISMATCH',
    /need 2 bytes but data_offsets \[0, 4\] hold 4/,
  );
  const two = [...d4, ...d4];
  throwsCode(
    () =>
      parseSafetensors(
        build(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          two,
        ),
      ),
    'OVERLAP',
    /tensor "b" bytes \[4, 8\) overlap tensor "a"/,
  );
  throwsCode(
    () => parseSafetensors(build('{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', two)),
    'INCOMPLETE_BUFFER',
    /bytes \[0, 4\)/,
  );
  throwsCode(() => parseSafetensors(build(ok, two)), 'INCOMPLETE_BUFFER', /4 trailing bytes/);
  // allowHoles relaxes coverage, never overlap
  assert.equal(
    parseSafetensors(build('{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', two), { allowHoles: true })
      .ndarray('b')
      .item(),
    1,
  );
  throwsCode(
    () =>
      parseSafetensors(
        build(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          two,
        ),
        { allowHoles: true },
      ),
    'OVERLAP',
  );
  // deep nesting is refused without a stack overflow
  throwsCode(
    () => parseSafetensors(build('{"a":' + '['.repeat(100000) + ']'.repeat(100000) + '}')),
    'HEADER_JSON',
    /nesting deeper than 64/,
  );
});

test('__proto__ / constructor tensor names are ordinary names (no prototype pollution)', () => {
  const bytes = build(
    '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},' +
      '"__metadata__":{"__proto__":"x","toString":"y"}}',
    [0, 0, 128, 63],
  );
  const f = parseSafetensors(bytes);
  assert.deepEqual(f.names(), ['__proto__', 'constructor']);
  assert.equal(f.ndarray('__proto__').item(), 1);
  assert.equal(f.metadata.get('__proto__'), 'x');
  assert.equal(({} as Record<string, unknown>).dtype, undefined);
  assert.equal(Object.hasOwn(Object.prototype, 'dtype'), false);
  throwsCode(
    () => f.entry('hasOwnProperty'),
    'NOT_FOUND',
    /no tensor named "hasOwnProperty" \(tensors: "__proto__", "constructor"\)/,
  );
  const rt = parseSafetensors(serializeSafetensors({ ['__proto__']: NDArray.from([2]) } as Record<string, NDArray>));
  // note: an object literal with a computed __proto__ key defines an own property
  assert.deepEqual(rt.names(), ['__proto__']);
});

test('requireFinite rejects NaN/Inf naming tensor and index', () => {
  const bytes = serializeSafetensors({
    ok: NDArray.from([1, 2]),
    bad: NDArray.from([0, 1, NaN]),
    h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x7c00]) },
  });
  assert.ok(Number.isNaN(parseSafetensors(bytes).ndarray('bad').data[2])); // allowed by default, as in the format
  throwsCode(
    () => parseSafetensors(bytes, { requireFinite: true }),
    'NON_FINITE',
    /tensor "bad" has a non-finite value NaN at flat index 2/,
  );
  const inf = serializeSafetensors({ h: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x7c00]) } });
  throwsCode(
    () => parseSafetensors(inf, { requireFinite: true }),
    'NON_FINITE',
    /tensor "h" .*Infinity at flat index 1/,
  );
  // an F64 value beyond float32 range is finite in the file
  const f64 = serializeSafetensors({ d: { dtype: 'F64', shape: [1], data: new Float64Array([1e300]) } });
  assert.doesNotThrow(() => parseSafetensors(f64, { requireFinite: true }));
});

test('file errors name the path; a truncated file is detected by the header-only reader too', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  throwsCode(
    () => readSafetensors(path.join(dir, 'nope.safetensors')),
    'IO',
    /safetensors file .*nope\.safetensors: cannot read file/,
  );
  throwsCode(() => readSafetensorsHeader(path.join(dir, 'nope.safetensors')), 'IO', /cannot open file/);
  const p = path.join(dir, 't.safetensors');
  const full = serializeSafetensors({ w: NDArray.ones([4]) });
  fs.writeFileSync(p, full.subarray(0, full.length - 3));
  throwsCode(
    () => readSafetensors(p),
    'BAD_OFFSETS',
    /run past the end of the data section \(13 bytes; truncated file\?\)/,
  );
  throwsCode(() => readSafetensorsHeader(p), 'BAD_OFFSETS', /run past the end of the data section \(13 bytes/);
  fs.writeFileSync(p, full.subarray(0, 20));
  throwsCode(
    () => readSafetensorsHeader(p, { source: `checkpoint ${p}` }),
    'HEADER_EXCEEDS_FILE',
    /^checkpoint .*t\.safetensors: header length \d+ exceeds file size 20/,
  );
  fs.rmSync(dir, { recursive: true });
});
