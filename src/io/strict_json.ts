/**
 * A strict JSON parser (RFC 8259) for headers of untrusted files (safetensors).
 *
 * Why not `JSON.parse`: it silently keeps the last of duplicate keys (the safetensors format
 * forbids duplicates), builds plain objects whose `__proto__` key is special, has no depth limit and
 * rounds large integers without telling. This parser
 *   - returns objects as `Map<string, JsonValue>` (no prototype, any key is safe),
 *   - rejects duplicate keys (naming the key and where it is),
 *   - limits nesting depth (default 64) so hostile input cannot exhaust the stack,
 *   - keeps the source text of every number (`JsonNumber.raw`) so callers can tell 2^64 from 2^64 + 1,
 *   - accepts exactly RFC 8259: no comments, no trailing commas, no NaN/Infinity, no leading zeros,
 *     no control characters in strings, no lone surrogates in \u escapes.
 *
 * Time and memory are linear in the input length.
 *
 * @example
 *   const v = parseStrictJson('{"a": [1, 2.5e3], "b": null}');
 *   (v as Map<string, JsonValue>).get('a')   // [JsonNumber{raw:'1', value:1}, JsonNumber{raw:'2.5e3', value:2500}]
 */

/** A JSON number with its exact source text. */
export class JsonNumber {
  constructor(readonly raw: string, readonly value: number) {}
  /** True when the source text is an integer literal (no fraction, no exponent). */
  get isIntegerLiteral(): boolean { return /^-?\d+$/.test(this.raw); }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | Map<string, JsonValue>;

/** Thrown on any syntax error, duplicate key or excessive nesting; `position` is a character index. */
export class StrictJsonError extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

export interface StrictJsonOptions {
  /** Maximum nesting depth of arrays/objects (default 64). */
  maxDepth?: number;
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parses `text` as one JSON value (surrounded by optional JSON whitespace) or throws `StrictJsonError`.
 * @example parseStrictJson('{"x": 1, "x": 2}')   // throws: duplicate key "x" at character 9
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): JsonValue {
  const maxDepth = options.maxDepth ?? 64;
  let i = 0;
  const n = text.length;

  const fail = (msg: string, at = i): never => { throw new StrictJsonError(`${msg} at character ${at}`, at); };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const describe = (at: number) => (at >= n ? 'end of input' : JSON.stringify(text[at]));

  const parseString = (): string => {
    // text[i] === '"'
    const start = i;
    i++;
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= n) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(chunk, i); i++; return out; }
      if (c < 0x20) fail(`control character U+${c.toString(16).padStart(4, '0')} in string`);
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        switch (e) {
          case '"': out += '"'; i += 2; break;
          case '\\': out += '\\'; i += 2; break;
          case '/': out += '/'; i += 2; break;
          case 'b': out += '\b'; i += 2; break;
          case 'f': out += '\f'; i += 2; break;
          case 'n': out += '\n'; i += 2; break;
          case 'r': out += '\r'; i += 2; break;
          case 't': out += '\t'; i += 2; break;
          case 'u': {
            const cu = hex4(i + 2);
            i += 6;
            if (cu >= 0xd800 && cu <= 0xdbff) {
              // a high surrogate must be followed by an escaped low surrogate
              if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone high surrogate in \\u escape');
              const lo = hex4(i + 2);
              if (lo < 0xdc00 || lo > 0xdfff) fail('high surrogate not followed by a low surrogate');
              i += 6;
              out += String.fromCharCode(cu, lo);
            } else if (cu >= 0xdc00 && cu <= 0xdfff) {
              fail('lone low surrogate in \\u escape');
            } else out += String.fromCharCode(cu);
            break;
          }
          default: fail(`invalid escape ${e === undefined ? 'at end of input' : JSON.stringify('\\' + e)}`);
        }
        chunk = i;
        continue;
      }
      i++;
    }
  };
  const hex4 = (at: number): number => {
    const h = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('invalid \\u escape', at);
    return parseInt(h, 16);
  };

  const parseValue = (depth: number): JsonValue => {
    ws();
    if (i >= n) fail('unexpected end of input');
    const c = text[i];
    if (c === '{') {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      i++;
      const obj = new Map<string, JsonValue>();
      ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a string key, found ${describe(i)}`);
        const keyAt = i;
        const key = parseString();
        if (obj.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
        ws();
        if (text[i] !== ':') fail(`expected ':' after key ${JSON.stringify(key)}, found ${describe(i)}`);
        i++;
        obj.set(key, parseValue(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail(`expected ',' or '}' in object, found ${describe(i)}`);
      }
    }
    if (c === '[') {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth}`);
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(parseValue(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail(`expected ',' or ']' in array, found ${describe(i)}`);
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER_RE.lastIndex = i;
      const m = NUMBER_RE.exec(text);
      if (!m) fail('invalid number');
      const raw = m![0];
      const after = text[i + raw.length];
      if (after !== undefined && /[0-9.eE+-]/.test(after)) fail(`invalid number ${JSON.stringify(text.slice(i, i + raw.length + 1))}`);
      i += raw.length;
      return new JsonNumber(raw, Number(raw));
    }
    return fail(`unexpected ${describe(i)}`);
  };

  const value = parseValue(0);
  ws();
  if (i < n) fail(`unexpected ${describe(i)} after the JSON value`);
  return value;
}

/** Human-readable JSON-ish rendering of a parsed value, for error messages (truncated to `max` characters). */
export function showJson(v: JsonValue | undefined, max = 80): string {
  const parts: string[] = [];
  let len = 0;
  const put = (s: string): boolean => { parts.push(s); len += s.length; return len <= max; };
  const walk = (x: JsonValue | undefined): boolean => {
    if (x === undefined) return put('undefined');
    if (x instanceof JsonNumber) return put(x.raw);
    if (x instanceof Map) {
      if (!put('{')) return false;
      let first = true;
      for (const [k, y] of x) {
        if (!put((first ? '' : ', ') + JSON.stringify(k) + ': ') || !walk(y)) return false;
        first = false;
      }
      return put('}');
    }
    if (Array.isArray(x)) {
      if (!put('[')) return false;
      for (let j = 0; j < x.length; j++) if (!put(j ? ', ' : '') || !walk(x[j])) return false;
      return put(']');
    }
    return put(JSON.stringify(x));
  };
  walk(v);
  const s = parts.join('');
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}
