/**
 * diffuse.json: what diffuse stores beside the diffusers files of a model folder — what the data
 * looked like (so `sample` writes an image grid, a scatter plot or a CSV in data units), the null
 * class of classifier-free guidance, and the training step of the model. The schema (zod) is the
 * one source of the type; reading a folder checks the file, so a damaged or hand-edited one fails
 * with the key path (`data.sampleShape[0]`), not somewhere later in sampling or evaluation.
 *
 * In a training run, diffuse.json is the last file of the top-level model to be replaced at each
 * save (see commit.ts): its `step` is the step of the model the user sees.
 *
 * @example
 *   writeRunInfo('runs/a', { data: { spec: 'moons', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null }, nullClass: null, step: 0 });
 *   const info = readRunInfo('runs/a'); // RunInfo | null (no diffuse.json: a folder from elsewhere)
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { formatSchemaError } from '../models/config_schema.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { RUN_INFO_NAME } from './names.ts';

const int = (min: number) => z.number().int().min(min);

const SCALER = z
  .object({
    mean: z.array(z.number()),
    std: z.array(z.number().positive()),
    columns: z.array(z.string()).nullable().optional(),
  })
  .refine((s) => s.mean.length === s.std.length, { message: 'mean and std must have the same length', path: ['std'] });

const DATA = z.object({
  spec: z.string(),
  kind: z.enum(['toy2d', 'images', 'tabular', 'series']),
  sampleShape: z.array(int(1)).min(1),
  numClasses: int(1).nullable(),
  classNames: z.array(z.string()).optional(),
  columns: z.array(z.string()).optional(),
  scaler: SCALER.optional(),
  size: int(0).nullable(),
});

/** The schema of diffuse.json. */
export const RUN_INFO_SCHEMA = z.object({
  data: DATA,
  /** Label of the null class (classifier-free guidance), if trained with label dropout. */
  nullClass: int(0).nullable(),
  step: int(0),
});

/** What diffuse stores beside the diffusers files: how to interpret the model's samples. */
export type RunInfo = z.infer<typeof RUN_INFO_SCHEMA>;

export { RUN_INFO_NAME };

/** Check a parsed diffuse.json; throws naming `where` and the key path of the first problems. @example checkRunInfoJson(JSON.parse(text), 'runs/a/diffuse.json') */
export function checkRunInfoJson(json: unknown, where: string): RunInfo {
  const r = RUN_INFO_SCHEMA.safeParse(json);
  if (!r.success) throw new Error(formatSchemaError(where, json, r.error));
  return json as RunInfo;
}

/** Write DIR/diffuse.json atomically. @example writeRunInfo('runs/a', info) */
export function writeRunInfo(dir: string, info: RunInfo): void {
  writeFileAtomicSync(path.join(dir, RUN_INFO_NAME), `${JSON.stringify(info, null, 2)}\n`);
}

/** Read and check DIR/diffuse.json; null when there is none. @example readRunInfo('runs/a')?.step */
export function readRunInfo(dir: string): RunInfo | null {
  const p = path.join(dir, RUN_INFO_NAME);
  if (!fs.existsSync(p)) return null;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    throw new Error(`${p}: invalid JSON (${(e as Error).message})`);
  }
  return checkRunInfoJson(json, p);
}
