/**
 * The API's file side (Node.js only; the API's classes load it on use): reading a model folder of
 * any layout and writing diffusers' layouts, under the folder's lock (src/folders/).
 *
 * @example
 *   const { model, weights, schedulerConfig, info } = loadPretrained('runs/moons');
 *   await savePipeline('out/pipe', { modelConfig, weights, schedulerConfig, info }, { dtype: 'float16' });
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import { loadPipelineFolder, type LoadedModel } from '../folders/pretrained.ts';
import { writeModelFolder, type ModelFiles } from '../folders/model_folder.ts';
import { writeWeights, type WeightsDtype } from '../folders/weights.ts';
import { withFolderLock } from '../folders/lock.ts';
import { CONFIG_NAME } from '../folders/names.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';

/** Options of savePretrained. */
export interface SaveOptions {
  /** Weights dtype on disk: 'float32' (default) or 'float16' (half the size; diffuse computes in float32). */
  dtype?: WeightsDtype;
}

/** Load a model folder: a diffuse output, a diffusers pipeline folder, a bare model folder or a checkpoint. */
export function loadPretrained(dir: string): LoadedModel {
  return loadPipelineFolder(dir);
}

/** Write a bare model folder (diffusers' ModelMixin.save_pretrained): config.json + weights. */
export async function saveModel(
  dir: string,
  modelConfig: Record<string, unknown>,
  weights: Record<string, NDArray>,
  o: SaveOptions = {},
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await withFolderLock(dir, 'savePretrained', () => {
    writeFileAtomicSync(path.join(dir, CONFIG_NAME), `${JSON.stringify(modelConfig, null, 2)}\n`);
    writeWeights(dir, weights, { dtype: o.dtype });
  });
}

/** Write a pipeline folder (model_index.json, unet/, scheduler/, diffuse.json) that diffusers' DDPMPipeline loads. */
export async function savePipeline(dir: string, files: ModelFiles, o: SaveOptions = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await withFolderLock(dir, 'savePretrained', () => {
    writeModelFolder(dir, files, { dtype: o.dtype });
  });
}
