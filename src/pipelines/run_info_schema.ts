/**
 * Schema (zod) of diffuse.json, the file `diffuse train` writes beside the diffusers files of a model
 * folder (RunInfo in sample_model.ts: what the data looked like, the null class of classifier-free
 * guidance, the step). Reading a folder checks it so that a damaged or hand-edited file fails with the
 * key path (`data.sampleShape[0]`), not somewhere later in sampling or evaluation.
 *
 * @example
 *   const info = checkRunInfoJson(JSON.parse(text), 'runs/a/diffuse.json');
 */
import { z } from 'zod';
import { formatSchemaError } from '../models/config_schema.ts';
import type { RunInfo } from './sample_model.ts';

const int = (min: number) => z.number().int().min(min);

const SCALER = z.object({
  mean: z.array(z.number()),
  std: z.array(z.number().positive()),
  columns: z.array(z.string()).nullable().optional(),
}).refine((s) => s.mean.length === s.std.length, { message: 'mean and std must have the same length', path: ['std'] });

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

export const RUN_INFO_SCHEMA = z.object({
  data: DATA,
  nullClass: int(0).nullable(),
  step: int(0),
});

/** Check a parsed diffuse.json; throws naming `where` and the key path of the first problems. */
export function checkRunInfoJson(json: unknown, where: string): RunInfo {
  const r = RUN_INFO_SCHEMA.safeParse(json);
  if (!r.success) throw new Error(formatSchemaError(where, json, r.error));
  return json as RunInfo;
}
