/**
 * A model folder as data: read the configs, weights and diffuse.json of any layout (layout.ts),
 * and write the pipeline layout that diffusers' `DDPMPipeline.from_pretrained` loads:
 *
 *   DIR/model_index.json                         {"_class_name": "DDPMPipeline", "scheduler": [...], "unet": [...]}
 *   DIR/unet/config.json                         the model config
 *   DIR/unet/diffusion_pytorch_model.safetensors the weights (F32, or F16 with dtype 'float16')
 *   DIR/scheduler/scheduler_config.json          the scheduler config
 *   DIR/diffuse.json                             diffuse's run description (written last)
 *
 * MLPModel is not a diffusers class: its folder has the same layout (diffuse reads all models the
 * same way) with `"_class_name": "DiffusePipeline"` and `"unet": ["diffuse", "MLPModel"]`, so
 * diffusers refuses it by name instead of misreading it; its weights are a plain safetensors state
 * dict (`safetensors.torch.load_file`).
 *
 * @example
 *   const f = loadModelFolder('google/ddpm-cifar10-32');   // { layout, modelConfig, schedulerConfig, weights, info, ... }
 *   writeModelFolder('out/fp16', f, { dtype: 'float16' });
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { serializeSafetensors, type SafetensorsDtype } from '../io/safetensors.ts';
import { warn } from '../io/warn.ts';
import { checkSchedulerConfig, readModelConfigFile, readSchedulerConfigFile, readJsonObject } from './config_files.ts';
import { detectLayout, type FolderLayout } from './layout.ts';
import { readRunInfo, writeRunInfo, checkRunInfoJson, type RunInfo } from './run_info.ts';
import { readWeightsAt, writeWeights, type WeightsDtype } from './weights.ts';
import {
  CONFIG_NAME,
  MODEL_INDEX_NAME,
  SCHEDULER_CONFIG_NAME,
  SCHEDULER_FOLDER,
  TRAINER_STATE_NAME,
  UNET_FOLDER,
  WEIGHTS_NAME,
} from './names.ts';

/**
 * The schedule of a model folder without a scheduler config: diffusers' DDPMScheduler defaults
 * (linear betas 1e-4 .. 0.02 over 1000 steps, epsilon prediction) — what `DDPMPipeline` trains with.
 */
export const DEFAULT_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'DDPMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  prediction_type: 'epsilon',
});

/** The files of a model, as objects. */
export interface ModelFiles {
  modelConfig: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  weights: Record<string, NDArray>;
  /** diffuse.json (null for folders from elsewhere). */
  info?: RunInfo | null;
}

/** A model folder read from disk. */
export interface ModelFolder extends ModelFiles {
  layout: FolderLayout;
  info: RunInfo | null;
  /** The weights files read (one, or the shards). */
  weightsFiles: string[];
  /** The stored dtypes of the weights, e.g. ['F16'] (diffuse computes in float32). */
  weightsDtypes: SafetensorsDtype[];
}

/** diffuse.json of a checkpoint folder, from its trainer state (or null). */
function checkpointRunInfo(dir: string): RunInfo | null {
  const state = readJsonObject(path.join(dir, TRAINER_STATE_NAME));
  if (state.runInfo !== undefined)
    return {
      ...checkRunInfoJson(state.runInfo, `${path.join(dir, TRAINER_STATE_NAME)} runInfo`),
      step: Number(state.step),
    };
  return null;
}

/**
 * Read a model folder of any layout (pipeline, bare model, diffuse's flat layout, a checkpoint):
 * configs checked (key paths in errors), weights converted to float32. `variant` picks
 * `diffusion_pytorch_model.<variant>.safetensors` where there are several.
 * @example const { modelConfig, weights, layout } = loadModelFolder('runs/moons'); layout.kind // 'pipeline'
 */
export function loadModelFolder(dir: string, options: { variant?: string } = {}): ModelFolder {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such model folder`);
  const layout = detectLayout(dir, options.variant);
  const modelConfig = readModelConfigFile(path.join(layout.modelDir, CONFIG_NAME));
  let schedulerConfig: Record<string, unknown>;
  if (layout.schedulerConfigFile) schedulerConfig = readSchedulerConfigFile(layout.schedulerConfigFile);
  else {
    warn(
      `${dir}: no scheduler config; using the default DDPMScheduler (linear betas 0.0001..0.02, 1000 steps, epsilon prediction)`,
    );
    schedulerConfig = checkSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG }, 'default scheduler config');
  }
  const w = readWeightsAt(layout.weights);
  const info =
    layout.kind === 'checkpoint' ? checkpointRunInfo(dir) : layout.runInfoDir ? readRunInfo(layout.runInfoDir) : null;
  return {
    layout,
    modelConfig,
    schedulerConfig,
    weights: w.weights,
    info,
    weightsFiles: w.files,
    weightsDtypes: w.dtypes,
  };
}

const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

/** The model_index.json of a diffuse pipeline folder. @example modelIndexFor({ _class_name: 'UNet2DModel' }, { _class_name: 'DDIMScheduler' }) */
export function modelIndexFor(
  modelConfig: Record<string, unknown>,
  schedulerConfig: Record<string, unknown>,
): Record<string, unknown> {
  const cls = String(modelConfig._class_name);
  const diffusersModel = cls === 'UNet2DModel';
  return {
    _class_name: diffusersModel ? 'DDPMPipeline' : 'DiffusePipeline',
    _diffusers_version: '0.31.0',
    scheduler: ['diffusers', String(schedulerConfig._class_name ?? 'DDPMScheduler')],
    unet: [diffusersModel ? 'diffusers' : 'diffuse', cls],
  };
}

export interface WriteModelFolderOptions {
  /** 'pipeline' (default; diffusers' DDPMPipeline layout) or 'diffuse' (the earlier flat layout). */
  layout?: 'pipeline' | 'diffuse';
  /** Weights dtype: 'float32' (default) or 'float16'. */
  dtype?: WeightsDtype;
  /** Strings stored in the weights' safetensors metadata (e.g. the training `step`). */
  metadata?: Record<string, string>;
}

/**
 * Write a model folder: every file atomically, the model files first and diffuse.json last (its
 * `step` says which save the folder holds). Returns the files written, in order.
 * @example writeModelFolder('out/pipe', { modelConfig, schedulerConfig, weights, info }, { dtype: 'float16' })
 */
export function writeModelFolder(dir: string, files: ModelFiles, options: WriteModelFolderOptions = {}): string[] {
  const written: string[] = [];
  const put = (file: string, data: string | Uint8Array) => {
    writeFileAtomicSync(file, data);
    written.push(file);
  };
  fs.mkdirSync(dir, { recursive: true });
  const layout = options.layout ?? 'pipeline';
  const modelDir = layout === 'pipeline' ? path.join(dir, UNET_FOLDER) : dir;
  const schedDir = layout === 'pipeline' ? path.join(dir, SCHEDULER_FOLDER) : dir;
  fs.mkdirSync(modelDir, { recursive: true });
  fs.mkdirSync(schedDir, { recursive: true });
  put(path.join(modelDir, CONFIG_NAME), json(files.modelConfig));
  written.push(writeWeights(modelDir, files.weights, { dtype: options.dtype, metadata: options.metadata }));
  put(path.join(schedDir, SCHEDULER_CONFIG_NAME), json(files.schedulerConfig));
  if (layout === 'pipeline')
    put(path.join(dir, MODEL_INDEX_NAME), json(modelIndexFor(files.modelConfig, files.schedulerConfig)));
  if (files.info) {
    writeRunInfo(dir, files.info);
    written.push(path.join(dir, 'diffuse.json'));
  }
  return written;
}

/**
 * Write diffuse's earlier flat layout (config.json, weights, scheduler_config.json in DIR itself).
 * Kept for callers and tests of that layout; new code writes the pipeline layout (writeModelFolder).
 * @example saveModelFolder('out/flat', modelConfig, weights, schedulerConfig)
 */
export function saveModelFolder(
  outDir: string,
  modelConfig: Record<string, unknown>,
  weights: Record<string, NDArray>,
  schedulerConfig: Record<string, unknown>,
  metadata: Record<string, string> = {},
): void {
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomicSync(path.join(outDir, CONFIG_NAME), json(modelConfig));
  writeFileAtomicSync(path.join(outDir, SCHEDULER_CONFIG_NAME), json(schedulerConfig));
  writeFileAtomicSync(path.join(outDir, WEIGHTS_NAME), serializeSafetensors(weights, { format: 'pt', ...metadata }));
}
