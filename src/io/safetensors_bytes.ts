/**
 * safetensors parse/serialize in memory (Hugging Face's tensor file format; the weights format of diffusers).
 * No file system here, so browsers can use it too; safetensors.ts adds the file readers and writer
 * and re-exports everything below.
 *
 * Format (huggingface/safetensors README, "Format"; and safetensors/src/tensor.rs):
 *   - 8 bytes: N, an unsigned little-endian 64-bit integer, the byte length of the header;
 *   - N bytes: a UTF-8 JSON object, starting with '{' and possibly padded with trailing spaces:
 *       { "TENSOR_NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
 *         "__metadata__": {"key": "string value", ...} }
 *     offsets are relative to the start of the data section; END is one past the last byte;
 *   - the rest of the file: the data section, little-endian, row-major, no strides.
 * Rules the reference implementation enforces and this reader enforces too: duplicate keys are
 * disallowed; the header is at most 100,000,000 bytes; END - BEGIN = prod(shape) * sizeof(dtype);
 * the tensors' byte ranges do not overlap and cover the data section exactly (no holes, no trailing
 * bytes) — so "loading a file never needs more memory than the file" (README, "Benefits").
 * Shape [] is a scalar; a 0 in the shape is an empty tensor.
 *
 * The reader trusts nothing: every failure is a `SafetensorsError` with a code and a message that
 * names the file, the tensor and the bad value, e.g.
 *   `checkpoint ckpt/x.safetensors: header length 9000000000000000000 exceeds file size 1024`.
 * The writer follows the reference layout: tensors sorted by descending dtype size then name
 * (so every tensor is aligned to its element size), header padded with spaces to a multiple of 8.
 *
 * @example
 *   writeSafetensors('model.safetensors', { 'conv.weight': w, 'conv.bias': b }, { format: 'pt' });
 *   const f = readSafetensors('model.safetensors', { source: 'checkpoint model.safetensors' });
 *   const w2 = f.ndarray('conv.weight');       // NDArray (float32), any float/int dtype converted
 */
import { NDArray } from '../engine/ndarray.ts';
import { JsonNumber, parseStrictJson, showJson, StrictJsonError, type JsonValue } from './strict_json.ts';

/** Element types of the format (safetensors `Dtype`) that this module reads. */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** Bytes per element. */
export const DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});
const DTYPES = Object.keys(DTYPE_SIZES) as SafetensorsDtype[];
const FLOAT_DTYPES = new Set<SafetensorsDtype>(['F8_E5M2', 'F8_E4M3', 'F16', 'BF16', 'F32', 'F64']);

/** The reference implementation's cap on the header size (safetensors/src/tensor.rs MAX_HEADER_SIZE). */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

export type SafetensorsErrorCode =
  | 'IO'
  | 'FILE_TOO_SMALL'
  | 'HEADER_EXCEEDS_FILE'
  | 'HEADER_TOO_LARGE'
  | 'HEADER_NOT_UTF8'
  | 'HEADER_START'
  | 'HEADER_JSON'
  | 'HEADER_NOT_OBJECT'
  | 'BAD_METADATA'
  | 'BAD_TENSOR_INFO'
  | 'BAD_DTYPE'
  | 'BAD_SHAPE'
  | 'BAD_OFFSETS'
  | 'SIZE_MISMATCH'
  | 'OVERLAP'
  | 'INCOMPLETE_BUFFER'
  | 'NON_FINITE'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'BAD_INPUT';

/**
 * The only error type the reader throws. `code` says what is wrong; `source` names the file.
 * @example try { readSafetensors(p); } catch (e) { if (e instanceof SafetensorsError && e.code === 'HEADER_TOO_LARGE') ... }
 */
export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    readonly code: SafetensorsErrorCode,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${source}: ${detail}`, options);
    this.name = 'SafetensorsError';
  }
}

/** One tensor's header entry. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** [begin, end) byte range relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header. */
export interface SafetensorsHeader {
  /** N, the header's byte length. */
  readonly headerLength: number;
  /** Byte length of the data section (file size - 8 - N). */
  readonly dataLength: number;
  /** Tensors in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** The `__metadata__` string map (empty if absent). */
  readonly metadata: ReadonlyMap<string, string>;
}

export interface SafetensorsReadOptions {
  /** Label used in error messages, e.g. 'checkpoint ckpt/x.safetensors' (default 'safetensors file <path>' or 'safetensors buffer'). */
  source?: string;
  /** Header size cap in bytes (default 100,000,000, the reference implementation's). */
  maxHeaderBytes?: number;
  /** Accept gaps between tensors and trailing bytes after the last one (default false: the reference rejects them). */
  allowHoles?: boolean;
  /** Reject NaN/±Inf in float tensors (default false; the format allows them). */
  requireFinite?: boolean;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/**
 * Validates the 8-byte length prefix against the file size and the cap; returns N.
 * Shared by the in-memory and the header-only (safetensors.ts) readers.
 */
export function checkHeaderLength(
  prefix: Uint8Array,
  fileSize: number,
  source: string,
  maxHeaderBytes: number,
): number {
  if (fileSize < 8) {
    throw new SafetensorsError(
      source,
      'FILE_TOO_SMALL',
      `file is ${fileSize} bytes, shorter than the 8-byte header length field`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      source,
      'HEADER_EXCEEDS_FILE',
      `header length ${n} exceeds file size ${fileSize} (at most ${fileSize - 8} bytes of header fit after the 8-byte length field)`,
    );
  }
  if (n > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError(
      source,
      'HEADER_TOO_LARGE',
      `header length ${n} exceeds the limit of ${maxHeaderBytes} bytes`,
    );
  }
  if (n < 2n) {
    throw new SafetensorsError(
      source,
      'HEADER_START',
      `header length ${n} is too small for a JSON object (at least 2 bytes: "{}")`,
    );
  }
  return Number(n);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isSafeNonNegInt(v: JsonValue | undefined): v is JsonNumber {
  return (
    v instanceof JsonNumber &&
    v.isIntegerLiteral &&
    Number.isSafeInteger(v.value) &&
    v.value >= 0 &&
    !v.raw.startsWith('-')
  );
}

/** Parses and validates the header JSON bytes against a data section of `dataLength` bytes. */
export function parseHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  source: string,
  options: SafetensorsReadOptions,
): SafetensorsHeader {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw new SafetensorsError(source, 'HEADER_NOT_UTF8', 'header is not valid UTF-8');
  }
  if (text.charCodeAt(0) !== 0x7b) {
    throw new SafetensorsError(
      source,
      'HEADER_START',
      `header must start with '{', found ${JSON.stringify(text.slice(0, 1))} (byte 8 of the file)`,
    );
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (e instanceof StrictJsonError) {
      const code = /duplicate key/.test(e.message) ? 'header has a duplicate key' : 'header is not valid JSON';
      throw new SafetensorsError(source, 'HEADER_JSON', `${code}: ${e.message}`);
    }
    throw e;
  }
  if (!(root instanceof Map)) throw new SafetensorsError(source, 'HEADER_NOT_OBJECT', 'header is not a JSON object');

  const metadata = new Map<string, string>();
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, info] of root) {
    if (name === '__metadata__') {
      if (!(info instanceof Map)) {
        throw new SafetensorsError(
          source,
          'BAD_METADATA',
          `__metadata__ must be an object of strings, got ${showJson(info)}`,
        );
      }
      for (const [k, v] of info) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(
            source,
            'BAD_METADATA',
            `__metadata__[${JSON.stringify(k)}] must be a string, got ${showJson(v)}`,
          );
        }
        metadata.set(k, v);
      }
      continue;
    }
    entries.set(name, parseEntry(name, info, dataLength, source));
  }
  checkLayout([...entries.values()], dataLength, source, options.allowHoles ?? false);
  return { headerLength: headerBytes.length, dataLength, entries, metadata };
}

const ENTRY_KEYS = ['dtype', 'shape', 'data_offsets'];

function parseEntry(name: string, info: JsonValue, dataLength: number, source: string): SafetensorsEntry {
  const t = `tensor ${JSON.stringify(name)}`;
  if (!(info instanceof Map)) {
    throw new SafetensorsError(
      source,
      'BAD_TENSOR_INFO',
      `${t}: expected {"dtype", "shape", "data_offsets"}, got ${showJson(info)}`,
    );
  }
  for (const k of info.keys()) {
    if (!ENTRY_KEYS.includes(k)) {
      throw new SafetensorsError(
        source,
        'BAD_TENSOR_INFO',
        `${t}: unknown key ${JSON.stringify(k)} (allowed: dtype, shape, data_offsets)`,
      );
    }
  }
  for (const k of ENTRY_KEYS) {
    if (!info.has(k)) throw new SafetensorsError(source, 'BAD_TENSOR_INFO', `${t}: missing key ${JSON.stringify(k)}`);
  }
  const dtype = info.get('dtype');
  if (typeof dtype !== 'string' || !(DTYPES as string[]).includes(dtype)) {
    throw new SafetensorsError(
      source,
      'BAD_DTYPE',
      `${t}: dtype ${showJson(dtype)} is not supported (allowed: ${DTYPES.join(', ')})`,
    );
  }
  const shapeV = info.get('shape');
  if (!Array.isArray(shapeV))
    throw new SafetensorsError(
      source,
      'BAD_SHAPE',
      `${t}: shape must be an array of integers, got ${showJson(shapeV)}`,
    );
  const shape: number[] = [];
  let numel = 1n;
  for (let d = 0; d < shapeV.length; d++) {
    const v = shapeV[d];
    if (!isSafeNonNegInt(v)) {
      throw new SafetensorsError(
        source,
        'BAD_SHAPE',
        `${t}: shape[${d}] = ${showJson(v)} is not a non-negative integer (at most 2^53 - 1)`,
      );
    }
    shape.push(v.value);
    numel *= BigInt(v.value);
  }
  const offV = info.get('data_offsets');
  if (!Array.isArray(offV) || offV.length !== 2) {
    throw new SafetensorsError(source, 'BAD_OFFSETS', `${t}: data_offsets must be [begin, end], got ${showJson(offV)}`);
  }
  for (let j = 0; j < 2; j++) {
    if (!isSafeNonNegInt(offV[j])) {
      throw new SafetensorsError(
        source,
        'BAD_OFFSETS',
        `${t}: data_offsets[${j}] = ${showJson(offV[j])} is not a non-negative integer (at most 2^53 - 1)`,
      );
    }
  }
  const begin = (offV[0] as JsonNumber).value,
    end = (offV[1] as JsonNumber).value;
  if (begin > end)
    throw new SafetensorsError(source, 'BAD_OFFSETS', `${t}: data_offsets [${begin}, ${end}] has begin > end`);
  if (end > dataLength) {
    throw new SafetensorsError(
      source,
      'BAD_OFFSETS',
      `${t}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes; truncated file?)`,
    );
  }
  const size = DTYPE_SIZES[dtype as SafetensorsDtype];
  const expected = numel * BigInt(size);
  if (expected !== BigInt(end - begin)) {
    throw new SafetensorsError(
      source,
      'SIZE_MISMATCH',
      `${t}: dtype ${dtype} and shape [${shape.join(', ')}] need ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDtype, shape, dataOffsets: [begin, end] };
}

/** No overlaps; unless allowHoles, the ranges tile [0, dataLength) exactly (reference: Metadata::validate). */
function checkLayout(entries: SafetensorsEntry[], dataLength: number, source: string, allowHoles: boolean): void {
  const sorted = [...entries].sort(
    (a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let pos = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    const [b, en] = e.dataOffsets;
    if (b < pos) {
      throw new SafetensorsError(
        source,
        'OVERLAP',
        `tensor ${JSON.stringify(e.name)} bytes [${b}, ${en}) overlap tensor ${JSON.stringify(prev!.name)} bytes [${prev!.dataOffsets[0]}, ${prev!.dataOffsets[1]})`,
      );
    }
    if (b > pos && !allowHoles) {
      throw new SafetensorsError(
        source,
        'INCOMPLETE_BUFFER',
        `bytes [${pos}, ${b}) of the data section belong to no tensor (the next tensor, ${JSON.stringify(e.name)}, starts at ${b}); the format allows no holes`,
      );
    }
    if (en > pos) {
      pos = en;
      prev = e;
    }
  }
  if (pos !== dataLength && !allowHoles) {
    throw new SafetensorsError(
      source,
      'INCOMPLETE_BUFFER',
      `the tensors cover ${pos} bytes but the data section has ${dataLength}; ${dataLength - pos} trailing bytes belong to no tensor (truncated or padded file?)`,
    );
  }
}

/**
 * A parsed, validated safetensors file held in memory. Tensor bytes are views into the file buffer
 * until converted (`ndarray`, `bigint64`), which copies.
 */
export class SafetensorsFile implements SafetensorsHeader {
  readonly headerLength: number;
  readonly dataLength: number;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: ReadonlyMap<string, string>;

  /** @param data the data section (bytes after the header). */
  constructor(
    header: SafetensorsHeader,
    private readonly data: Uint8Array,
    readonly source: string,
  ) {
    this.headerLength = header.headerLength;
    this.dataLength = header.dataLength;
    this.entries = header.entries;
    this.metadata = header.metadata;
  }

  /** Tensor names in header order. @example f.names() // ['conv.bias', 'conv.weight'] */
  names(): string[] {
    return [...this.entries.keys()];
  }
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Header entry of `name` (throws NOT_FOUND naming close matches). @example f.entry('w').shape */
  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) {
      const names = this.names();
      const shown =
        names
          .slice(0, 10)
          .map((s) => JSON.stringify(s))
          .join(', ') + (names.length > 10 ? `, ... (${names.length} in all)` : '');
      throw new SafetensorsError(
        this.source,
        'NOT_FOUND',
        `no tensor named ${JSON.stringify(name)} (tensors: ${shown || 'none'})`,
      );
    }
    return e;
  }

  /** The tensor's raw little-endian bytes (a view, no copy). @example f.raw('w').byteLength */
  raw(name: string): Uint8Array {
    const [b, e] = this.entry(name).dataOffsets;
    return this.data.subarray(b, e);
  }

  /**
   * The tensor as a float32 NDArray; F16, BF16, F8_E4M3 (OCP "fn" variant), F8_E5M2, F64 and integer
   * dtypes are converted (F64 and |integers| > 2^24 lose precision, as a float32 cast does).
   * @example const w = f.ndarray('conv.weight');
   */
  ndarray(name: string): NDArray {
    const e = this.entry(name);
    return new NDArray(e.shape, decodeToFloat32(e.dtype, this.raw(name)));
  }

  /** An I64/U64 tensor as exact 64-bit integers. @example f.bigint64('step')[0] */
  bigint64(name: string): BigInt64Array | BigUint64Array {
    const e = this.entry(name);
    const bytes = this.raw(name);
    const n = bytes.byteLength / 8;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (e.dtype === 'I64') {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(8 * i, true);
      return out;
    }
    if (e.dtype === 'U64') {
      const out = new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigUint64(8 * i, true);
      return out;
    }
    throw new SafetensorsError(
      this.source,
      'UNSUPPORTED',
      `tensor ${JSON.stringify(name)} has dtype ${e.dtype}; bigint64() reads I64 or U64`,
    );
  }

  /** All tensors as float32 NDArrays (a fresh Map, header order). @example for (const [k, v] of f.toNDArrays()) ... */
  toNDArrays(): Map<string, NDArray> {
    const out = new Map<string, NDArray>();
    for (const name of this.entries.keys()) out.set(name, this.ndarray(name));
    return out;
  }
}

/**
 * Parses a whole safetensors file held in memory.
 * @example const f = parseSafetensors(fs.readFileSync(p), { source: `checkpoint ${p}` });
 */
export function parseSafetensors(bytes: Uint8Array, options: SafetensorsReadOptions = {}): SafetensorsFile {
  const source = options.source ?? 'safetensors buffer';
  const n = checkHeaderLength(bytes, bytes.byteLength, source, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n, source, options);
  const file = new SafetensorsFile(header, bytes.subarray(8 + n), source);
  if (options.requireFinite) checkFinite(file);
  return file;
}

function checkFinite(file: SafetensorsFile): void {
  for (const e of file.entries.values()) {
    if (!FLOAT_DTYPES.has(e.dtype)) continue;
    const v = decodeToFloat32(e.dtype, file.raw(e.name), e.dtype === 'F64');
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) {
        throw new SafetensorsError(
          file.source,
          'NON_FINITE',
          `tensor ${JSON.stringify(e.name)} has a non-finite value ${v[i]} at flat index ${i} (shape [${e.shape.join(', ')}])`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Element decoding
// ---------------------------------------------------------------------------------------------

/** IEEE 754 binary16 bits -> number (1 sign, 5 exponent bits with bias 15, 10 mantissa bits). */
export function float16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24; // zero / subnormal: m * 2^-14 * 2^-10
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

/**
 * number -> IEEE 754 binary16 bits, as a float32 -> float16 cast does (torch `.half()`): the value
 * is first rounded to float32, then to 11 significant bits with round-to-nearest-even; overflow
 * gives +-Infinity (0x7c00), NaN gives 0x7e00, tiny values become subnormals or +-0.
 *   normal:    bits = sign | (e + 15) << 10 | round(mantissa / 2^13)
 *   subnormal: bits = sign | round(1.mantissa * 2^(e + 24))          (e < -14)
 * @example float32ToFloat16Bits(1) // 0x3c00
 */
export function float32ToFloat16Bits(x: number): number {
  F32_SCRATCH[0] = x;
  const b = U32_SCRATCH[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 127 + 15; // biased binary16 exponent
  if (e >= 31) return sign | 0x7c00;
  let half: number, rem: number, halfway: number;
  if (e >= 1) {
    half = (e << 10) | (mant >>> 13);
    rem = mant & 0x1fff;
    halfway = 0x1000;
  } else {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000; // the implicit leading 1
    const shift = 14 - e;
    half = m >>> shift;
    rem = m & ((1 << shift) - 1);
    halfway = 1 << (shift - 1);
  }
  if (rem > halfway || (rem === halfway && (half & 1) === 1)) half += 1; // a carry may reach the exponent (or infinity)
  return sign | half;
}

/**
 * OCP 8-bit float E4M3 ("fn": no infinities; S.1111.111 is NaN; bias 7; max 448) -> number.
 * (OCP 8-bit Floating Point Specification (OFP8) rev. 1.0, table 1; PyTorch float8_e4m3fn.)
 */
export function float8E4M3ToNumber(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 0x7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * m * 2 ** -9; // subnormal: m/8 * 2^(1-7)
  return s * (1 + m / 8) * 2 ** (e - 7);
}

function decodeToFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, asFloat64 = false): Float32Array | Float64Array {
  const size = DTYPE_SIZES[dtype];
  const n = bytes.byteLength / size;
  const out = asFloat64 ? new Float64Array(n) : new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST && !asFloat64 && bytes.byteOffset % 4 === 0) {
        (out as Float32Array).set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      } else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = float16ToNumber(dv.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, dv.getUint16(2 * i, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      break;
    }
    case 'F8_E5M2':
      for (let i = 0; i < n; i++) out[i] = float16ToNumber(bytes[i] << 8);
      break; // E5M2 = top byte of binary16
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = float8E4M3ToNumber(bytes[i]);
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0;
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(2 * i, true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(4 * i, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(8 * i, true));
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

type TypedData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/** A tensor to write: an NDArray (stored as F32) or explicit dtype + shape + data (raw bytes or a matching typed array). */
export type SafetensorsInput = NDArray | { dtype: SafetensorsDtype; shape: readonly number[]; data: TypedData };

type TypedCtor = { new (n: number): TypedData; readonly name: string };
const TYPED_FOR: Partial<Record<SafetensorsDtype, TypedCtor>> = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

function toLittleEndianBytes(data: TypedData, elemSize: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST || elemSize === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += elemSize)
    for (let j = 0; j < elemSize; j++) out[i + j] = bytes[i + elemSize - 1 - j];
  return out;
}

/**
 * Serializes tensors (+ optional `__metadata__` string map) to safetensors bytes.
 * NDArrays are stored as F32; `{dtype: 'I64', shape, data: BigInt64Array}` etc. for other dtypes;
 * F16/BF16/F8 take their raw bits as a Uint16Array/Uint8Array.
 *
 * @example const bytes = serializeSafetensors({ w: NDArray.ones([2, 2]) }, { format: 'pt' });
 */
export function serializeSafetensors(
  tensors: Record<string, SafetensorsInput> | ReadonlyMap<string, SafetensorsInput>,
  metadata?: Record<string, string> | ReadonlyMap<string, string>,
): Uint8Array {
  const source = 'serializeSafetensors';
  const items = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const prepared: { name: string; dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of items) {
    if (name === '__metadata__')
      throw new SafetensorsError(
        source,
        'BAD_INPUT',
        'a tensor may not be named "__metadata__" (reserved for the metadata map)',
      );
    let dtype: SafetensorsDtype, shape: number[], data: TypedData;
    if (t instanceof NDArray) {
      dtype = 'F32';
      shape = [...t.shape];
      data = t.data;
    } else {
      if (!t || typeof t !== 'object' || !(DTYPES as string[]).includes(t.dtype)) {
        throw new SafetensorsError(
          source,
          'BAD_INPUT',
          `tensor ${JSON.stringify(name)}: dtype ${JSON.stringify((t as { dtype?: unknown })?.dtype)} is not supported (allowed: ${DTYPES.join(', ')})`,
        );
      }
      dtype = t.dtype;
      shape = [...t.shape];
      data = t.data;
      const want = TYPED_FOR[dtype];
      const size = DTYPE_SIZES[dtype];
      const ok = want
        ? data instanceof want
        : (size === 2 && data instanceof Uint16Array) || data instanceof Uint8Array;
      if (!ok) {
        throw new SafetensorsError(
          source,
          'BAD_INPUT',
          `tensor ${JSON.stringify(name)}: dtype ${dtype} needs ${want ? `a ${want.name}` : `its raw bits as a ${size === 2 ? 'Uint16Array' : 'Uint8Array'}`}, got ${data?.constructor?.name}`,
        );
      }
    }
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0)
        throw new SafetensorsError(
          source,
          'BAD_INPUT',
          `tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] must hold non-negative integers`,
        );
    }
    const size = DTYPE_SIZES[dtype];
    const bytes = toLittleEndianBytes(data, data.BYTES_PER_ELEMENT);
    const need = shape.reduce((p, d) => p * d, 1) * size;
    if (bytes.byteLength !== need) {
      throw new SafetensorsError(
        source,
        'BAD_INPUT',
        `tensor ${JSON.stringify(name)}: dtype ${dtype} and shape [${shape.join(', ')}] need ${need} bytes, data has ${bytes.byteLength}`,
      );
    }
    prepared.push({ name, dtype, shape, bytes });
  }
  // Reference order (tensor.rs `prepare`): descending dtype alignment, then name.
  prepared.sort(
    (a, b) => DTYPE_SIZES[b.dtype] - DTYPE_SIZES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );

  const parts: string[] = [];
  if (metadata) {
    const m = metadata instanceof Map ? [...metadata] : Object.entries(metadata);
    for (const [k, v] of m) {
      if (typeof v !== 'string')
        throw new SafetensorsError(
          source,
          'BAD_INPUT',
          `metadata[${JSON.stringify(k)}] must be a string, got ${typeof v}`,
        );
    }
    parts.push(`"__metadata__":{${m.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const p of prepared) {
    const end = offset + p.bytes.byteLength;
    parts.push(
      `${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`); // UTF-8
  const padded = Math.ceil(json.length / 8) * 8; // header padded with spaces to 8-byte alignment (tensor.rs)
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const p of prepared) {
    out.set(p.bytes, pos);
    pos += p.bytes.byteLength;
  }
  return out;
}
