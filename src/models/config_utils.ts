/**
 * Small validators for model configs (diffusers-style snake_case JSON objects). Every error names the
 * config, the key, the bad value and what is allowed.
 *
 * @example
 *   const r = new ConfigReader(json, 'UNet2DModel config', ALLOWED_KEYS);
 *   const ch = r.int('in_channels', 3, { min: 1 });
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class ConfigReader {
  readonly obj: Record<string, unknown>;

  /** Checks that `json` is an object whose keys are all in `allowed` (keys starting with '_' are metadata and skipped). */
  constructor(
    json: unknown,
    readonly where: string,
    allowed: readonly string[],
  ) {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error(`${where}: expected a JSON object, got ${describe(json)}`);
    }
    this.obj = json as Record<string, unknown>;
    const unknown = Object.keys(this.obj).filter((k) => !k.startsWith('_') && !allowed.includes(k));
    if (unknown.length > 0) {
      throw new Error(
        `${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed keys: ${allowed.join(', ')})`,
      );
    }
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  private fail(key: string, v: unknown, expected: string): never {
    throw new Error(`${this.where}: ${key} = ${describe(v)} is invalid: expected ${expected}`);
  }

  int(key: string, dflt: number, o: { min?: number } = {}): number {
    const v = this.obj[key] ?? dflt;
    const min = o.min ?? -Infinity;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      this.fail(key, v, `an integer${min > -Infinity ? ` >= ${min}` : ''}`);
    return v as number;
  }

  intOrNull(key: string, dflt: number | null, o: { min?: number } = {}): number | null {
    const v = this.obj[key] === undefined ? dflt : this.obj[key];
    if (v === null) return null;
    const min = o.min ?? -Infinity;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      this.fail(key, v, `null or an integer${min > -Infinity ? ` >= ${min}` : ''}`);
    return v as number;
  }

  num(key: string, dflt: number, o: { positive?: boolean } = {}): number {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || (o.positive && !(v > 0)))
      this.fail(key, v, o.positive ? 'a finite number > 0' : 'a finite number');
    return v as number;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'boolean') this.fail(key, v, 'true or false');
    return v as boolean;
  }

  /** A string from `allowed` (a `null` entry in `allowed` permits JSON null). */
  choice<T extends string | null>(key: string, dflt: T, allowed: readonly T[]): T {
    const v = this.obj[key] === undefined ? dflt : this.obj[key];
    if (!allowed.includes(v as T)) this.fail(key, v, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return v as T;
  }

  intList(key: string, dflt: readonly number[], o: { min?: number; minLength?: number } = {}): number[] {
    const v = this.obj[key] ?? dflt;
    const min = o.min ?? 1;
    if (
      !Array.isArray(v) ||
      v.length < (o.minLength ?? 1) ||
      v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < min)
    ) {
      this.fail(key, v, `a list of at least ${o.minLength ?? 1} integer(s) >= ${min}`);
    }
    return [...(v as number[])];
  }

  stringList<T extends string>(key: string, dflt: readonly T[], allowed: readonly T[]): T[] {
    const v = this.obj[key] ?? dflt;
    if (!Array.isArray(v) || v.length < 1)
      this.fail(key, v, `a non-empty list of ${allowed.map((a) => JSON.stringify(a)).join(' | ')}`);
    (v as unknown[]).forEach((x, i) => {
      if (!allowed.includes(x as T))
        this.fail(`${key}[${i}]`, x, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    });
    return [...(v as T[])];
  }
}

/** A short printable form of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
