/**
 * The API's seam to model folders (src/folders/): load any supported layout, save diffusers' layout.
 *
 * @example
 *   const { model, weights, schedulerConfig, info } = loadPretrained('runs/moons');
 */
import fs from 'node:fs';
import type { NDArray } from '../engine/index.ts';
import { loadTrainedModel, type LoadedModel } from '../pipelines/sample_model.ts';
import { saveModelFolder } from '../folders/model_folder.ts';
import { writeRunInfo, type RunInfo } from '../folders/run_info.ts';
import { CONFIG_NAME, WEIGHTS_NAME } from '../folders/names.ts';
import { serializeSafetensors } from '../io/safetensors.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';

/** Options of savePretrained. */
export interface SaveOptions {}

/** Load a model folder (validated: config keys, parameter names and shapes). */
export function loadPretrained(dir: string): LoadedModel {
  return loadTrainedModel(dir);
}

/** What a folder holds: the model, and optionally the scheduler config and diffuse's run info. */
export interface FolderContents {
  modelConfig: Record<string, unknown>;
  weights: Record<string, NDArray>;
  schedulerConfig?: Record<string, unknown>;
  info?: RunInfo | null;
}

/** Write a model folder: config.json + weights (+ scheduler_config.json, diffuse.json when given). */
export function savePretrained(dir: string, c: FolderContents, _o: SaveOptions = {}): void {
  if (c.schedulerConfig) {
    saveModelFolder(dir, c.modelConfig, c.weights, c.schedulerConfig);
  } else {
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(`${dir}/${CONFIG_NAME}`, `${JSON.stringify(c.modelConfig, null, 2)}\n`);
    writeFileAtomicSync(`${dir}/${WEIGHTS_NAME}`, serializeSafetensors(c.weights, { format: 'pt' }));
  }
  if (c.info) writeRunInfo(dir, c.info);
}
