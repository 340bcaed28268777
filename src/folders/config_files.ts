/**
 * Reading the JSON config files of a model folder: `config.json` (the model) and
 * `scheduler_config.json` (the noise schedule), checked with zod schemas before anything is built.
 *
 * - A wrong type or range is an error naming the file, the key path, the value and what is allowed:
 *   `runs/a/scheduler_config.json: beta_end = "0.02" is invalid: expected number, received string`.
 * - An unknown key is a warning (through `warn`) and the key is dropped, as diffusers does.
 *
 * The scheduler schema is derived from the scheduler class's own config spec (the `configSpec` of
 * the class named by `_class_name`), so it cannot drift from what the class accepts. Keys that
 * another registered scheduler class takes are not unknown (diffusers keeps them for from_config).
 *
 * @example
 *   const modelConfig = readModelConfigFile('runs/a/config.json');
 *   const schedulerConfig = readSchedulerConfigFile('runs/a/scheduler_config.json');
 */
import fs from 'node:fs';
import { z } from 'zod';
import { checkModelConfigJson, formatSchemaError, isMetadataKey } from '../models/config_schema.ts';
import {
  registeredSchedulers,
  schedulerFromConfig,
  type ConfigSpec,
  type KeySpec,
  type SchedulerClass,
} from '../samplers/index.ts';
import { warn } from '../io/warn.ts';
import { checkBetaRange } from '../samplers/scheduler.ts';
import { betasFor } from '../schedules/betas.ts';

/** Read a file as a JSON object; errors name the file. */
export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new Error(`${file}: expected a JSON object, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function warnUnknown(where: string, keys: string[], hint: string): void {
  if (keys.length)
    warn(
      `${where}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')} ignored (${hint})`,
    );
}

/**
 * Check a model config object (as read from a config.json): schema errors throw, unknown keys are
 * warned about and removed. @example checkModelConfig(json, 'my/config.json')
 */
export function checkModelConfig(json: unknown, where: string): Record<string, unknown> {
  const { config, unknownKeys } = checkModelConfigJson(json, where);
  warnUnknown(where, unknownKeys, `not a ${String(config._class_name)} key`);
  return config;
}

/** Read and check a model config.json. @example readModelConfigFile('runs/a/config.json') */
export function readModelConfigFile(file: string): Record<string, unknown> {
  return checkModelConfig(readJsonObject(file), file);
}

function zodForKey(ks: KeySpec): z.ZodType {
  let s: z.ZodType;
  switch (ks.kind) {
    case 'int': {
      let n = z.number().int();
      if (ks.min !== undefined) n = n.min(ks.min);
      if (ks.max !== undefined) n = n.max(ks.max);
      s = n;
      break;
    }
    case 'number': {
      let n = z.number();
      if (ks.min !== undefined) n = n.min(ks.min);
      if (ks.max !== undefined) n = n.max(ks.max);
      s = n;
      break;
    }
    case 'bool':
      s = z.boolean();
      break;
    case 'string':
      s = z.string();
      break;
    case 'enum': {
      const values = (ks.values ?? []).filter((v): v is string => v !== null);
      s = values.length ? z.enum(values as [string, ...string[]]) : z.never();
      break;
    }
    case 'numbers':
      s = z.array(z.number());
      break;
    default:
      s = z.unknown();
  }
  // null means "the default" for keys that are not nullable (diffusers' configs hold such nulls).
  return s.nullable().optional();
}

const schemaCache = new Map<string, { schema: z.ZodType; known: Set<string> }>();

/** The zod schema of a scheduler class's config, built from its config spec. @example schedulerConfigSchema('DDIMScheduler') */
export function schedulerConfigSchema(className: string): { schema: z.ZodType; known: Set<string> } {
  let hit = schemaCache.get(className);
  if (!hit) {
    const spec = (schedulerFromConfig(className, {}).constructor as unknown as SchedulerClass).configSpec as ConfigSpec;
    const shape: Record<string, z.ZodType> = {};
    for (const [k, ks] of Object.entries(spec)) shape[k] = zodForKey(ks);
    const known = new Set<string>();
    for (const name of registeredSchedulers()) {
      for (const k of Object.keys((schedulerFromConfig(name, {}).constructor as unknown as SchedulerClass).configSpec))
        known.add(k);
    }
    hit = { schema: z.object(shape).catchall(z.unknown()), known };
    schemaCache.set(className, hit);
  }
  return hit;
}

/**
 * Check a scheduler config object (as read from a scheduler_config.json) against the schema of its
 * `_class_name` (or `className`); schema errors throw, unknown keys are warned about and removed.
 * @example checkSchedulerConfig({ _class_name: 'DDPMScheduler', beta_end: 0.02 }, 'scheduler_config.json')
 */
export function checkSchedulerConfig(json: unknown, where: string, className?: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`${where}: expected a JSON object`);
  const obj = json as Record<string, unknown>;
  const cls = className ?? obj._class_name ?? 'DDPMScheduler'; // no _class_name: the training schedule's class
  const names = registeredSchedulers();
  if (typeof cls !== 'string' || !names.includes(cls)) {
    throw new Error(
      `${where}: _class_name = ${JSON.stringify(cls) ?? 'missing'} is invalid: expected one of ${names.map((n) => JSON.stringify(n)).join(', ')}`,
    );
  }
  const { schema, known } = schedulerConfigSchema(cls);
  const r = schema.safeParse(obj);
  if (!r.success) throw new Error(formatSchemaError(where, obj, r.error as z.ZodError));
  const unknownKeys = Object.keys(obj).filter((k) => !known.has(k) && !isMetadataKey(k));
  warnUnknown(where, unknownKeys, 'no scheduler takes it');
  const kept = Object.fromEntries(Object.entries(obj).filter(([k]) => !unknownKeys.includes(k)));
  checkPhysicalRanges(cls, kept, where);
  return kept;
}

/**
 * The physical range of the beta table (every beta_t in (0, 1): samplers' checkBetaRange), reported
 * against the file, so `beta_end: 5` is refused when the folder is read, not as NaN samples later.
 */
function checkPhysicalRanges(cls: string, cfg: Record<string, unknown>, where: string): void {
  const spec = (schedulerFromConfig(cls, {}).constructor as unknown as SchedulerClass).configSpec;
  if (!('beta_end' in spec) && !('trained_betas' in spec)) return;
  const v = (k: string) => (cfg[k] ?? spec[k]?.default ?? undefined) as never;
  const c = {
    num_train_timesteps: v('num_train_timesteps'),
    beta_start: v('beta_start'),
    beta_end: v('beta_end'),
    beta_schedule: v('beta_schedule'),
    trained_betas: v('trained_betas'),
    rescale_betas_zero_snr: v('rescale_betas_zero_snr') ?? false,
  };
  try {
    checkBetaRange(betasFor(c, cls), c, cls);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message.replace(/^[A-Za-z]+( config)?: /, '')}`, { cause: e });
  }
}

/** Read and check a scheduler_config.json. @example readSchedulerConfigFile('runs/a/scheduler_config.json') */
export function readSchedulerConfigFile(file: string): Record<string, unknown> {
  return checkSchedulerConfig(readJsonObject(file), file);
}
