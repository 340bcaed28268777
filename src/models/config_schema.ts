/**
 * Schemas (zod) of the model config.json files diffuse reads: MLPModel and UNet2DModel, diffusers'
 * snake_case keys. The schema checks each key's type and range and reports the key path
 * (`block_out_channels[1]`); unknown keys are not errors here but are returned, so a file reader can
 * warn and drop them (diffusers also ignores unexpected config keys with a warning). The model's own
 * validator (validateMLPConfig / validateUNet2DConfig) then checks what involves several keys
 * (GroupNorm divisibility, list lengths) and fills the defaults.
 *
 * As in those validators, JSON null for a key that is not nullable means "use the default".
 *
 * @example
 *   const { config, unknownKeys } = checkModelConfigJson(JSON.parse(text), 'runs/a/config.json');
 *   // unknownKeys: ['addition_embed_type'] -> warn; config holds the known keys only
 */
import { z } from 'zod';
import { UNET2D_CONFIG_SHAPE } from './unet2d_config.ts';

const int = (min: number) => z.number().int().min(min);
const num = () => z.number(); // zod 4: finite numbers only (rejects Infinity and NaN)
const positive = () => z.number().positive();
const acts = z.enum(['silu', 'swish', 'gelu', 'relu']);
/** A key whose null means "the default". */
const opt = <T extends z.ZodType>(s: T) => s.nullable().optional();

const MLP_SHAPE = {
  _class_name: z.literal('MLPModel'),
  in_channels: opt(int(1)),
  out_channels: opt(int(1)),
  hidden_dims: opt(z.array(int(1)).min(1)),
  time_embedding_dim: opt(int(2)),
  flip_sin_to_cos: opt(z.boolean()),
  freq_shift: opt(num()),
  act_fn: opt(acts),
  num_class_embeds: opt(int(1)),
  class_embedding_dim: opt(int(1)),
  input_embedding_dim: opt(int(0)),
  input_embedding_scale: opt(positive()),
};

/** UNet2DModel: the one schema of unet2d_config.ts (its transforms fill defaults; here only the check matters). */
const UNET_SHAPE = { _class_name: z.literal('UNet2DModel'), ...UNET2D_CONFIG_SHAPE };

/** The schema of each supported `_class_name` (keys starting with '_' other than _class_name are metadata). */
export const MODEL_CONFIG_SCHEMAS = {
  MLPModel: z.object(MLP_SHAPE).catchall(z.unknown()),
  UNet2DModel: z.object(UNET_SHAPE).catchall(z.unknown()),
} as const;

/**
 * diffusers' metadata keys (`_class_name`, `_diffusers_version`, `_use_default_values`, ...): one
 * leading underscore. `__proto__` and other dunder keys are not metadata (they are reported and dropped).
 * @example isMetadataKey('_diffusers_version') // true
 */
export function isMetadataKey(k: string): boolean {
  return /^_[^_]/.test(k);
}

/** A printable key path: ['block_out_channels', 1] -> 'block_out_channels[1]'. */
export function keyPath(p: readonly PropertyKey[]): string {
  return (
    p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('') ||
    '(top level)'
  );
}

function valueAt(json: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = json;
  for (const k of p) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Turn the first problems of a failed zod parse into one line naming the file, the key path, the
 * bad value and what is allowed.
 * @example formatSchemaError('config.json', json, result.error) // 'config.json: in_channels = "3" is invalid: expected number, received string'
 */
export function formatSchemaError(where: string, json: unknown, error: z.ZodError): string {
  const parts = error.issues.slice(0, 3).map((iss) => {
    const msg = iss.message.replace(/^Invalid input: /, '');
    return `${keyPath(iss.path)} = ${show(valueAt(json, iss.path))} is invalid: ${msg}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return `${where}: ${parts.join('; ')}${more}`;
}

/**
 * Check a parsed model config.json against the schema of its `_class_name`. Throws an error with
 * the key path on a wrong type or range; returns the config without unknown keys, and those keys.
 * @example checkModelConfigJson({ _class_name: 'MLPModel', hidden_dims: [64, 64], foo: 1 }, 'config.json').unknownKeys // ['foo']
 */
export function checkModelConfigJson(
  json: unknown,
  where: string,
): { config: Record<string, unknown>; unknownKeys: string[] } {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`${where}: expected a JSON object, got ${show(json)}`);
  const obj = json as Record<string, unknown>;
  const cls = obj._class_name;
  if (typeof cls !== 'string' || !Object.hasOwn(MODEL_CONFIG_SCHEMAS, cls)) {
    throw new Error(
      `${where}: _class_name = ${show(cls)} is invalid: expected one of ${Object.keys(MODEL_CONFIG_SCHEMAS)
        .map((c) => JSON.stringify(c))
        .join(', ')}`,
    );
  }
  const schema = MODEL_CONFIG_SCHEMAS[cls as keyof typeof MODEL_CONFIG_SCHEMAS];
  const r = schema.safeParse(obj);
  if (!r.success) throw new Error(formatSchemaError(where, obj, r.error));
  const known = new Set(Object.keys(schema.shape));
  const unknownKeys = Object.keys(obj).filter((k) => !known.has(k) && !isMetadataKey(k));
  const config = Object.fromEntries(Object.entries(obj).filter(([k]) => !unknownKeys.includes(k)));
  return { config, unknownKeys };
}
