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
  constructor(
    readonly raw: string,
    readonly value: number,
  ) {}
  /** True when the source text is an integer literal (no fraction, no exponent). */
  get isIntegerLiteral(): boolean {
    return /^-?\d+$/.test(this.raw);
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | Map<string, JsonValue>;

/** Thrown on any syntax error, duplicate key or excessive nesting; `position` is a character index. */
export class StrictJsonError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
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
  const p = new StrictJsonParser(text, options.maxDepth ?? 64);
  const value = p.value(0);
  p.ws();
  if (p.i < text.length) p.fail(`unexpected ${p.describe(p.i)} after the JSON value`);
  return value;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A recursive-descent JSON parser over `text`; `i` is the read position. */
class StrictJsonParser {
  i = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  fail(msg: string, at = this.i): never {
    throw new StrictJsonError(`${msg} at character ${at}`, at);
  }

  /** Skip JSON whitespace (space, tab, LF, CR). */
  ws(): void {
    while (this.i < this.text.length) {
      const c = this.text.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  describe(at: number): string {
    return at >= this.text.length ? 'end of input' : JSON.stringify(this.text[at]);
  }

  value(depth: number): JsonValue {
    this.ws();
    if (this.i >= this.text.length) this.fail('unexpected end of input');
    const c = this.text[this.i]!;
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    return this.fail(`unexpected ${this.describe(this.i)}`);
  }

  private object(depth: number): Map<string, JsonValue> {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.i++;
    const obj = new Map<string, JsonValue>();
    this.ws();
    if (this.text[this.i] === '}') {
      this.i++;
      return obj;
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail(`expected a string key, found ${this.describe(this.i)}`);
      const keyAt = this.i;
      const key = this.string();
      if (obj.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.ws();
      if (this.text[this.i] !== ':')
        this.fail(`expected ':' after key ${JSON.stringify(key)}, found ${this.describe(this.i)}`);
      this.i++;
      obj.set(key, this.value(depth + 1));
      this.ws();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.text[this.i] === '}') {
        this.i++;
        return obj;
      }
      this.fail(`expected ',' or '}' in object, found ${this.describe(this.i)}`);
    }
  }

  private array(depth: number): JsonValue[] {
    if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
    this.i++;
    const arr: JsonValue[] = [];
    this.ws();
    if (this.text[this.i] === ']') {
      this.i++;
      return arr;
    }
    for (;;) {
      arr.push(this.value(depth + 1));
      this.ws();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.text[this.i] === ']') {
        this.i++;
        return arr;
      }
      this.fail(`expected ',' or ']' in array, found ${this.describe(this.i)}`);
    }
  }

  private number(): JsonNumber {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.text);
    if (!m) return this.fail('invalid number');
    const raw = m[0];
    const after = this.text[this.i + raw.length];
    if (after !== undefined && /[0-9.eE+-]/.test(after))
      this.fail(`invalid number ${JSON.stringify(this.text.slice(this.i, this.i + raw.length + 1))}`);
    this.i += raw.length;
    return new JsonNumber(raw, Number(raw));
  }

  /** A string literal starting at text[i] === '"'. */
  private string(): string {
    const start = this.i;
    this.i++;
    let out = '';
    let chunk = this.i;
    for (;;) {
      if (this.i >= this.text.length) this.fail('unterminated string', start);
      const c = this.text.charCodeAt(this.i);
      if (c === 0x22) {
        out += this.text.slice(chunk, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail(`control character U+${c.toString(16).padStart(4, '0')} in string`);
      if (c === 0x5c) {
        out += this.text.slice(chunk, this.i) + this.escape();
        chunk = this.i;
        continue;
      }
      this.i++;
    }
  }

  /** The escape sequence at text[i] === '\\' (advancing past it), surrogate pairs included. */
  private escape(): string {
    const e = this.text[this.i + 1];
    if (e !== undefined && e in ESCAPES) {
      this.i += 2;
      return ESCAPES[e]!;
    }
    if (e !== 'u') return this.fail(`invalid escape ${e === undefined ? 'at end of input' : JSON.stringify('\\' + e)}`);
    const cu = this.hex4(this.i + 2);
    this.i += 6;
    if (cu >= 0xdc00 && cu <= 0xdfff) this.fail('lone low surrogate in \\u escape');
    if (cu < 0xd800 || cu > 0xdbff) return String.fromCharCode(cu);
    // a high surrogate must be followed by an escaped low surrogate
    if (this.text[this.i] !== '\\' || this.text[this.i + 1] !== 'u') this.fail('lone high surrogate in \\u escape');
    const lo = this.hex4(this.i + 2);
    if (lo < 0xdc00 || lo > 0xdfff) this.fail('high surrogate not followed by a low surrogate');
    this.i += 6;
    return String.fromCharCode(cu, lo);
  }

  private hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape', at);
    return parseInt(h, 16);
  }
}

/** Human-readable JSON-ish rendering of a parsed value, for error messages (truncated to `max` characters). */
export function showJson(v: JsonValue | undefined, max = 80): string {
  const parts: string[] = [];
  let len = 0;
  const put = (s: string): boolean => {
    parts.push(s);
    len += s.length;
    return len <= max;
  };
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
