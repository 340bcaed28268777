/**
 * Load a model folder of any layout as a ready model: the model built from its config, the weights
 * checked against it (names and shapes; one line listing the problems), the scheduler config and
 * diffuse.json. What `diffuse sample`, `eval`, `export` and `info` read.
 *
 * @example
 *   const m = loadPipelineFolder('google-ddpm-cifar10-32');   // a diffusers pipeline folder
 *   m.model.numParameters(); m.folder.layout.kind;             // 'pipeline'
 */
import type { NDArray } from '../engine/index.ts';
import { modelFromConfig, type DiffusionModel } from '../models/registry.ts';
import { upgradeLegacyAttentionNames } from '../models/unet2d_legacy.ts';
import { checkParams } from '../nn/module.ts';
import path from 'node:path';
import { loadModelFolder, type ModelFolder } from './model_folder.ts';
import type { RunInfo } from './run_info.ts';
import { CONFIG_NAME } from './names.ts';

/** A model folder loaded for sampling. */
export interface LoadedModel {
  model: DiffusionModel;
  weights: Record<string, NDArray>;
  schedulerConfig: Record<string, unknown>;
  info: RunInfo | null;
  /** What was read, from where (layout, files, stored dtypes). */
  folder?: ModelFolder;
}

/**
 * Read a model folder (pipeline, bare model, diffuse's flat layout or a checkpoint) and build its
 * model; config keys, parameter names and shapes are validated.
 * @example const { model, weights, schedulerConfig } = loadPipelineFolder('runs/mnist');
 */
export function loadPipelineFolder(dir: string, options: { variant?: string } = {}): LoadedModel {
  const folder = loadModelFolder(dir, options);
  const model = modelFromConfig(folder.modelConfig, path.join(folder.layout.modelDir, CONFIG_NAME));
  // Old diffusers checkpoints name attention weights query/key/value/proj_attn; diffusers renames them on load.
  const { weights } = upgradeLegacyAttentionNames(model, folder.weights);
  checkParams(model, weights, folder.weightsFiles.length === 1 ? folder.weightsFiles[0] : folder.layout.weights.file);
  return { model, weights, schedulerConfig: folder.schedulerConfig, info: folder.info, folder };
}
