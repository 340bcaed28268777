/**
 * The API's seam to model folders (src/folders/): load any supported layout, save diffusers' layouts —
 * a pipeline folder (model_index.json, unet/, scheduler/, diffuse.json) when a scheduler is given, as
 * `DDPMPipeline.save_pretrained` writes it, else a bare model folder (config.json + weights), as a
 * model's `save_pretrained` does. Writes hold the folder's lock (one writer per folder).
 *
 * @example
 *   const { model, weights, schedulerConfig, info } = loadPretrained('runs/moons');
 *   savePretrained('out/unet', { modelConfig, weights }, { dtype: 'float16' });
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import {
  CONFIG_NAME, acquireFolderLock, loadPipelineFolder, writeModelFolder, writeWeights,
  type LoadedModel, type RunInfo, type WeightsDtype,
} from '../folders/index.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';

/** Options of savePretrained. */
export interface SaveOptions {
  /** Weights dtype: 'float32' (default) or 'float16' (diffusers loads both). */
  dtype?: WeightsDtype;
}

/** Load a model folder of any layout (validated: config keys, parameter names and shapes). */
export function loadPretrained(dir: string): LoadedModel {
  return loadPipelineFolder(dir);
}

/** What a folder holds: the model, and optionally the scheduler config and diffuse's run info. */
export interface FolderContents {
  modelConfig: Record<string, unknown>;
  weights: Record<string, NDArray>;
  schedulerConfig?: Record<string, unknown>;
  info?: RunInfo | null;
}

/** Write a pipeline folder (with a scheduler config) or a bare model folder (without), holding the folder's lock. */
export function savePretrained(dir: string, c: FolderContents, o: SaveOptions = {}): void {
  const lock = acquireFolderLock(dir, 'savePretrained');
  try {
    if (c.schedulerConfig) {
      writeModelFolder(dir, { modelConfig: c.modelConfig, weights: c.weights, schedulerConfig: c.schedulerConfig, info: c.info ?? null }, { dtype: o.dtype });
    } else {
      fs.mkdirSync(dir, { recursive: true });
      writeFileAtomicSync(path.join(dir, CONFIG_NAME), `${JSON.stringify(c.modelConfig, null, 2)}\n`);
      writeWeights(dir, c.weights, { dtype: o.dtype });
    }
  } finally {
    lock.release();
  }
}
