/**
 * safetensors files on disk: read, read the header only, write atomically. The format itself (parse,
 * serialize, dtypes, errors) lives in safetensors_bytes.ts, which has no Node-only imports (browsers
 * use it), and is re-exported here, so this module keeps the whole API.
 *
 * @example
 *   writeSafetensors('model.safetensors', { 'conv.weight': w, 'conv.bias': b }, { format: 'pt' });
 *   const f = readSafetensors('model.safetensors', { source: 'checkpoint model.safetensors' });
 *   const w2 = f.ndarray('conv.weight');       // NDArray (float32), any float/int dtype converted
 */
import * as fs from 'node:fs';
import { writeFileAtomicSync, type AtomicWriteOptions } from './atomic.ts';
import {
  DEFAULT_MAX_HEADER_BYTES,
  SafetensorsError,
  checkHeaderLength,
  parseHeader,
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsFile,
  type SafetensorsHeader,
  type SafetensorsInput,
  type SafetensorsReadOptions,
} from './safetensors_bytes.ts';

export * from './safetensors_bytes.ts';

function ioError(source: string, what: string, e: unknown): SafetensorsError {
  return new SafetensorsError(source, 'IO', `${what}: ${(e as Error).message}`, { cause: e });
}

/**
 * Reads and validates a safetensors file from disk (reads the whole file; never more than its size).
 * @example const f = readSafetensors('ckpt/diffusion_pytorch_model.safetensors');
 */
export function readSafetensors(path: string, options: SafetensorsReadOptions = {}): SafetensorsFile {
  const source = options.source ?? `safetensors file ${path}`;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw ioError(source, 'cannot read file', e);
  }
  return parseSafetensors(bytes, { ...options, source });
}

/**
 * Reads and validates only the header (8 + N bytes), e.g. for `diffuse info`.
 * @example const h = readSafetensorsHeader(p); [...h.entries.values()].map((e) => e.shape)
 */
export function readSafetensorsHeader(path: string, options: SafetensorsReadOptions = {}): SafetensorsHeader {
  const source = options.source ?? `safetensors file ${path}`;
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw ioError(source, 'cannot open file', e);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) readExactly(fd, prefix, 0, source);
    const n = checkHeaderLength(prefix, size, source, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES);
    const headerBytes = new Uint8Array(n);
    readExactly(fd, headerBytes, 8, source);
    return parseHeader(headerBytes, size - 8 - n, source, options);
  } finally {
    fs.closeSync(fd);
  }
}

function readExactly(fd: number, buf: Uint8Array, position: number, source: string): void {
  let off = 0;
  while (off < buf.length) {
    let got: number;
    try {
      got = fs.readSync(fd, buf, off, buf.length - off, position + off);
    } catch (e) {
      throw ioError(source, 'cannot read file', e);
    }
    if (got === 0)
      throw new SafetensorsError(
        source,
        'IO',
        `file ended after ${position + off} bytes while reading the header (did it shrink?)`,
      );
    off += got;
  }
}

/**
 * Writes a safetensors file atomically (temp file + fsync + rename).
 * @example writeSafetensors('ckpt/diffusion_pytorch_model.safetensors', stateDict, { format: 'pt' });
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsInput> | ReadonlyMap<string, SafetensorsInput>,
  metadata?: Record<string, string> | ReadonlyMap<string, string>,
  options?: AtomicWriteOptions,
): void {
  writeFileAtomicSync(path, serializeSafetensors(tensors, metadata), options);
}
