/**
 * Which kind of model folder a path is, and where its parts are. Four layouts are read:
 *
 *   pipeline    a diffusers pipeline folder (what `diffuse train` writes, what
 *               `DDPMPipeline.save_pretrained` writes): model_index.json, unet/{config.json, weights},
 *               scheduler/scheduler_config.json; diffuse.json and checkpoint-N/ may lie beside them.
 *   model       a bare model folder: config.json + weights (e.g. a pipeline's unet/ folder, or a
 *               `UNet2DModel.save_pretrained` output). The scheduler is the pipeline's when the
 *               folder is the unet/ of a pipeline folder, else the default (DEFAULT_SCHEDULER_CONFIG).
 *   diffuse     diffuse's earlier flat layout: config.json + weights + scheduler_config.json
 *               (+ diffuse.json) in one folder — every older diffuse output keeps loading.
 *   checkpoint  a checkpoint-N/ folder of a training run: read as a model with its EMA weights
 *               (ema.safetensors) when it has them, like the top-level model of the run.
 *
 * @example
 *   const l = detectLayout('runs/moons'); // { kind: 'pipeline', modelDir: 'runs/moons/unet', ... }
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonObject } from './config_files.ts';
import { listCheckpoints } from './checkpoint.ts';
import { locateWeights, type WeightsLocation } from './weights.ts';
import {
  CONFIG_NAME,
  EMA_WEIGHTS_NAME,
  MODEL_INDEX_NAME,
  RUN_INFO_NAME,
  SCHEDULER_CONFIG_NAME,
  SCHEDULER_FOLDER,
  TRAINER_STATE_NAME,
  UNET_FOLDER,
  checkpointName,
} from './names.ts';

export type FolderLayoutKind = 'pipeline' | 'model' | 'diffuse' | 'checkpoint';

/** The parts of a model folder. */
export interface FolderLayout {
  kind: FolderLayoutKind;
  /** The folder as given. */
  dir: string;
  /** The folder holding config.json and the weights. */
  modelDir: string;
  /** The weights to read. */
  weights: WeightsLocation;
  /** The scheduler config file, or null: the default schedule (DEFAULT_SCHEDULER_CONFIG). */
  schedulerConfigFile: string | null;
  /** The folder holding diffuse.json, or null if there is none. */
  runInfoDir: string | null;
  /** The pipeline class of model_index.json (pipeline layout), else null. */
  pipelineClass: string | null;
}

const exists = (...p: string[]) => fs.existsSync(path.join(...p));

/** The [library, class] pair of a model_index.json component, checked. */
function component(index: Record<string, unknown>, name: string, file: string): [string, string] | null {
  const v = index[name];
  if (v === undefined) return null;
  if (
    !Array.isArray(v) ||
    v.length !== 2 ||
    (v[0] !== null && typeof v[0] !== 'string') ||
    (v[1] !== null && typeof v[1] !== 'string')
  ) {
    throw new Error(`${file}: ${name} = ${JSON.stringify(v)} is invalid: expected [library, class name]`);
  }
  return v[0] === null || v[1] === null ? null : [v[0], v[1]];
}

function pipelineLayout(dir: string, variant?: string): FolderLayout {
  const file = path.join(dir, MODEL_INDEX_NAME);
  const index = readJsonObject(file);
  const unet = component(index, UNET_FOLDER, file);
  if (!unet) {
    const names = Object.keys(index).filter((k) => !k.startsWith('_'));
    throw new Error(
      `${file}: no "unet" component (components: ${names.join(', ') || 'none'}); diffuse reads unconditional UNet pipelines such as DDPMPipeline`,
    );
  }
  const modelDir = path.join(dir, UNET_FOLDER);
  if (!exists(modelDir, CONFIG_NAME))
    throw new Error(`${file}: names the component unet, but ${path.join(modelDir, CONFIG_NAME)} does not exist`);
  const sched = path.join(dir, SCHEDULER_FOLDER, SCHEDULER_CONFIG_NAME);
  return {
    kind: 'pipeline',
    dir,
    modelDir,
    weights: locateWeights(modelDir, variant),
    schedulerConfigFile: fs.existsSync(sched) ? sched : null,
    runInfoDir: exists(dir, RUN_INFO_NAME) ? dir : null,
    pipelineClass: typeof index._class_name === 'string' ? index._class_name : null,
  };
}

/**
 * Detect the layout of a model folder (see the file comment). Throws one line naming the folder
 * when it is none of them: missing, not a folder, no config, no weights, only checkpoints.
 * @example detectLayout('google/ddpm-cifar10-32').kind // 'pipeline'
 */
export function detectLayout(dir: string, variant?: string): FolderLayout {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such model folder`);
  if (!fs.statSync(dir).isDirectory())
    throw new Error(`${dir}: not a folder (a model folder holds model_index.json or config.json)`);
  if (exists(dir, MODEL_INDEX_NAME)) return pipelineLayout(dir, variant);
  if (exists(dir, CONFIG_NAME)) {
    if (exists(dir, TRAINER_STATE_NAME)) {
      const ema = path.join(dir, EMA_WEIGHTS_NAME);
      return {
        kind: 'checkpoint',
        dir,
        modelDir: dir,
        weights: fs.existsSync(ema) ? { kind: 'single', file: ema, variant: null } : locateWeights(dir, variant),
        schedulerConfigFile: exists(dir, SCHEDULER_CONFIG_NAME) ? path.join(dir, SCHEDULER_CONFIG_NAME) : null,
        runInfoDir: null,
        pipelineClass: null,
      };
    }
    if (exists(dir, SCHEDULER_CONFIG_NAME)) {
      return {
        kind: 'diffuse',
        dir,
        modelDir: dir,
        weights: locateWeights(dir, variant),
        schedulerConfigFile: path.join(dir, SCHEDULER_CONFIG_NAME),
        runInfoDir: exists(dir, RUN_INFO_NAME) ? dir : null,
        pipelineClass: null,
      };
    }
    // A bare model folder; inside a pipeline folder (its unet/), the pipeline's scheduler and diffuse.json apply.
    const parent = path.dirname(path.resolve(dir));
    const inPipeline = exists(parent, MODEL_INDEX_NAME);
    const sched = path.join(parent, SCHEDULER_FOLDER, SCHEDULER_CONFIG_NAME);
    return {
      kind: 'model',
      dir,
      modelDir: dir,
      weights: locateWeights(dir, variant),
      schedulerConfigFile: inPipeline && fs.existsSync(sched) ? sched : null,
      runInfoDir: inPipeline && exists(parent, RUN_INFO_NAME) ? parent : null,
      pipelineClass: null,
    };
  }
  const steps = listCheckpoints(dir);
  if (steps.length) {
    const last = path.join(dir, checkpointName(steps[steps.length - 1]));
    throw new Error(
      `${dir}: holds checkpoints but no model (no ${MODEL_INDEX_NAME}); \`diffuse train --resume --out ${dir}\` restores it, or read ${last}`,
    );
  }
  throw new Error(`${dir}: not a model folder (no ${MODEL_INDEX_NAME} or ${CONFIG_NAME})`);
}

/**
 * Whether `dir` holds a model or a training run (any layout, or checkpoints): `train` refuses such
 * an --out unless resuming. @example folderHoldsModel('runs/a') // true
 */
export function folderHoldsModel(dir: string): boolean {
  return hasTopLevelModel(dir) || listCheckpoints(dir).length > 0;
}

/** Whether DIR has a top-level model of any layout (model_index.json or config.json). @example hasTopLevelModel('runs/a') */
export function hasTopLevelModel(dir: string): boolean {
  return exists(dir, MODEL_INDEX_NAME) || exists(dir, CONFIG_NAME);
}
