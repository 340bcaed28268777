/**
 * Bounded fuzz test of the safetensors reader (issue 8): mutate valid files (bit flips, truncation,
 * extension, header-length edits, JSON-aware header edits) and check that every case either parses
 * to a self-consistent result or throws SafetensorsError — never another error, never a hang, and
 * never a tensor larger than the file.
 *
 * Deterministic: the mutations are drawn from Philox(2024); a failure prints the case number and
 * mutation so it can be replayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Philox } from '../../src/engine/rng.ts';
import { NDArray } from '../../src/engine/ndarray.ts';
import {
  DTYPE_SIZES,
  SafetensorsError,
  parseSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  type SafetensorsFile,
} from '../../src/io/safetensors.ts';

const CASES = 20_000;
const TIME_BUDGET_MS = 15_000;

function seeds(): Uint8Array[] {
  const fix = fs.readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'io', 'reference.safetensors'));
  return [
    new Uint8Array(fix),
    serializeSafetensors(
      {
        'down.0.weight': new NDArray(
          [2, 2, 3],
          Float32Array.from({ length: 12 }, (_, i) => i - 5.5),
        ),
        'down.0.bias': NDArray.from([1, -1]),
      },
      { format: 'pt', step: '100' },
    ),
    serializeSafetensors({
      a: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0x7c00, 0x0001]) },
      b: { dtype: 'I64', shape: [], data: new BigInt64Array([42n]) },
      c: { dtype: 'U8', shape: [2, 0], data: new Uint8Array(0) },
      d: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x7fc0]) },
      e: { dtype: 'F8_E4M3', shape: [2], data: new Uint8Array([0x7e, 0x7f]) },
    }),
    serializeSafetensors({}),
  ];
}

const NUMBERS = [
  '0',
  '1',
  '4',
  '7',
  '-1',
  '1.5',
  '1e3',
  '9007199254740991',
  '9007199254740993',
  '18446744073709551615',
  '18446744073709551616',
  '4294967296',
  '99999999999999999999999',
  '-0',
  '00',
  '1e400',
  '2147483648',
];
const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ',',
  ':',
  '\\',
  'null',
  'true',
  ' ',
  '"__proto__":{},',
  '"__metadata__":{"a":1},',
  '\u0000',
  '\ud800',
  'é',
];
const DTYPE_NAMES = [...Object.keys(DTYPE_SIZES), 'F31', 'f32', '', 'C64', 'F4'];

class Draw {
  constructor(private readonly rng: Philox) {}
  int(max: number): number {
    return max <= 1 ? 0 : this.rng.uniformInt(max);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

function withHeader(file: Uint8Array, edit: (h: string) => string, fixLength: boolean): Uint8Array {
  if (file.length < 8) return file;
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  if (n > file.length - 8) return file;
  const header = Buffer.from(file.subarray(8, 8 + n)).toString('utf8');
  const h2 = Buffer.from(edit(header), 'utf8');
  const data = file.subarray(8 + n);
  const out = new Uint8Array(8 + h2.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(fixLength ? h2.length : n), true);
  out.set(h2, 8);
  out.set(data, 8 + h2.length);
  return out;
}

function mutate(base: Uint8Array, d: Draw): { bytes: Uint8Array; what: string } {
  const kind = d.int(9);
  const b = base.slice();
  switch (kind) {
    case 0: {
      // bit flips, mostly in the first 8 + header bytes
      const k = 1 + d.int(4);
      for (let j = 0; j < k; j++) {
        const at = d.int(3) ? d.int(Math.min(b.length, 120)) : d.int(b.length);
        b[at] ^= 1 << d.int(8);
      }
      return { bytes: b, what: `${k} bit flips` };
    }
    case 1: {
      const len = d.int(b.length);
      return { bytes: b.subarray(0, len), what: `truncate to ${len}` };
    }
    case 2: {
      const extra = new Uint8Array(1 + d.int(16)).map(() => d.int(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return { bytes: out, what: `append ${extra.length} bytes` };
    }
    case 3: {
      // header length field
      const dv = new DataView(b.buffer);
      const choice = d.int(4);
      const v =
        choice === 0
          ? BigInt(d.int(b.length + 16))
          : choice === 1
            ? dv.getBigUint64(0, true) + BigInt(d.int(17) - 8)
            : choice === 2
              ? 1n << BigInt(d.int(64))
              : BigInt.asUintN(64, BigInt(d.int(0x7fffffff)) * 0x1_0000_0001n);
      dv.setBigUint64(0, BigInt.asUintN(64, v), true);
      return { bytes: b, what: `header length := ${BigInt.asUintN(64, v)}` };
    }
    case 4: {
      // replace a number in the header
      const num = d.pick(NUMBERS);
      let k = 0;
      const target = d.int(12);
      return {
        bytes: withHeader(
          b,
          (h) => h.replace(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g, (m) => (k++ === target ? num : m)),
          d.int(4) > 0,
        ),
        what: `number #${target} := ${num}`,
      };
    }
    case 5: {
      // replace a dtype
      const dt = d.pick(DTYPE_NAMES);
      let k = 0;
      const target = d.int(6);
      return {
        bytes: withHeader(
          b,
          (h) => h.replace(/"dtype":"[^"]*"/g, (m) => (k++ === target ? `"dtype":"${dt}"` : m)),
          true,
        ),
        what: `dtype #${target} := ${dt}`,
      };
    }
    case 6: {
      // insert / delete / replace a character or token in the header
      const tok = d.pick(TOKENS);
      const op = d.int(3);
      const at = d.int(400);
      return {
        bytes: withHeader(
          b,
          (h) => {
            const i = Math.min(at, h.length);
            return op === 0
              ? h.slice(0, i) + tok + h.slice(i)
              : op === 1
                ? h.slice(0, i) + h.slice(i + 1)
                : h.slice(0, i) + tok + h.slice(i + tok.length);
          },
          d.int(4) > 0,
        ),
        what: `header ${['insert', 'delete', 'replace'][op]} ${JSON.stringify(tok)} at ${at}`,
      };
    }
    case 7: {
      // duplicate or swap tensor entries
      return {
        bytes: withHeader(
          b,
          (h) => {
            const m = /"[^"]+":\{"dtype":"[^"]*","shape":\[[^\]]*\],"data_offsets":\[\d+,\d+\]\}/.exec(h);
            if (!m) return h;
            const op = d.int(3);
            if (op === 0) return h.replace(m[0], m[0] + ',' + m[0]); // duplicate name
            if (op === 1) return h.replace(m[0], m[0] + ',' + m[0].replace(/^"/, '"dup.')); // same bytes, second name
            return h.replace(/"data_offsets":\[(\d+),(\d+)\]/, '"data_offsets":[$2,$1]');
          },
          true,
        ),
        what: 'duplicate entry / swap offsets',
      };
    }
    default: {
      // random shape edit
      const dims = Array.from({ length: d.int(4) }, () => d.pick(['0', '1', '2', '3', '6', '65536', '4294967296']));
      let k = 0;
      const target = d.int(6);
      return {
        bytes: withHeader(
          b,
          (h) => h.replace(/"shape":\[[^\]]*\]/g, (m) => (k++ === target ? `"shape":[${dims.join(',')}]` : m)),
          true,
        ),
        what: `shape #${target} := [${dims}]`,
      };
    }
  }
}

function checkConsistent(f: SafetensorsFile, fileSize: number): void {
  assert.equal(8 + f.headerLength + f.dataLength <= fileSize, true);
  const ranges: [number, number][] = [];
  let total = 0;
  for (const e of f.entries.values()) {
    const [b, en] = e.dataOffsets;
    assert.ok(Number.isSafeInteger(b) && Number.isSafeInteger(en) && 0 <= b && b <= en && en <= f.dataLength);
    const numel = e.shape.reduce((p, x) => p * x, 1);
    assert.equal(numel * DTYPE_SIZES[e.dtype], en - b);
    ranges.push([b, en]);
    total += en - b;
    const a = f.ndarray(e.name); // converted size is bounded by the validated byte range
    assert.equal(a.size, numel);
  }
  assert.ok(total <= f.dataLength, 'tensors never claim more bytes than the data section holds');
  ranges.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++)
    assert.ok(ranges[i][0] >= ranges[i - 1][1] || ranges[i - 1][0] === ranges[i - 1][1], 'no overlap');
}

test(`fuzz: ${CASES} mutated files -> consistent parse or SafetensorsError, within ${TIME_BUDGET_MS / 1000} s`, () => {
  const base = seeds();
  for (const s of base) checkConsistent(parseSafetensors(s), s.length);
  const d = new Draw(new Philox(2024));
  const outcomes = new Map<string, number>();
  const t0 = performance.now();
  let slowest = 0;
  for (let c = 0; c < CASES; c++) {
    const { bytes, what } = mutate(base[d.int(base.length)], d);
    const opts = {
      requireFinite: d.int(2) === 0,
      allowHoles: d.int(4) === 0,
      maxHeaderBytes: d.int(8) === 0 ? 64 : undefined,
    };
    const t = performance.now();
    try {
      const f = parseSafetensors(bytes, opts);
      checkConsistent(f, bytes.length);
      outcomes.set('parsed', (outcomes.get('parsed') ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        assert.fail(
          `case ${c} (${what}, opts ${JSON.stringify(opts)}): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
        );
      }
      outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
    }
    slowest = Math.max(slowest, performance.now() - t);
  }
  const elapsed = performance.now() - t0;
  // the header-only reader (reads 8 + N bytes from disk) agrees with the in-memory reader
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stfuzz-'));
  const file = path.join(dir, 'x.safetensors');
  for (let c = 0; c < 500; c++) {
    const { bytes, what } = mutate(base[d.int(base.length)], d);
    fs.writeFileSync(file, bytes);
    let full: SafetensorsFile | undefined;
    try {
      full = parseSafetensors(bytes);
    } catch (e) {
      assert.ok(e instanceof SafetensorsError);
    }
    try {
      const h = readSafetensorsHeader(file);
      assert.ok(full, `header-only reader accepted what the full reader rejected (${what})`);
      assert.deepEqual([...h.entries], [...full!.entries]);
      assert.deepEqual([...h.metadata], [...full!.metadata]);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) assert.fail(`header-only case ${c} (${what}): ${(e as Error)?.message}`);
      assert.equal(
        full,
        undefined,
        `header-only reader rejected what the full reader accepted (${what}): ${e.message}`,
      );
    }
  }
  fs.rmSync(dir, { recursive: true });
  console.log(
    `fuzz: ${CASES} cases in ${elapsed.toFixed(0)} ms (slowest ${slowest.toFixed(1)} ms):`,
    Object.fromEntries([...outcomes].sort()),
  );
  assert.ok(elapsed < TIME_BUDGET_MS, `took ${elapsed} ms`);
  assert.ok(slowest < 500, `one case took ${slowest} ms`);
  // the mutations reach deep into validation, not only the first check
  for (const code of [
    'parsed',
    'HEADER_EXCEEDS_FILE',
    'HEADER_JSON',
    'BAD_DTYPE',
    'BAD_SHAPE',
    'BAD_OFFSETS',
    'SIZE_MISMATCH',
    'INCOMPLETE_BUFFER',
    'OVERLAP',
    'NON_FINITE',
  ]) {
    assert.ok((outcomes.get(code) ?? 0) > 0, `no case ended in ${code}`);
  }
});
