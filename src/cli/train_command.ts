/**
 * `diffuse train`: resolve the model and data from the command line, train with a progress line,
 * write sample previews and checkpoints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { modelConfig, modelFromConfig, type DiffusionModel } from '../models/registry.ts';
import { openDataSource, type DataDescription } from '../data/data_source.ts';
import {
  defaultTrainConfig,
  nullClassOf,
  train,
  type Progress,
  type TrainConfig,
  type TrainResult,
} from '../training/trainer.ts';
import type { TrainPredictionType } from '../training/objectives.ts';
import { generate } from '../pipelines/generate.ts';
import { denoiserWithWeightInputs, isClassConditional, modelSampleShape } from '../pipelines/denoiser.ts';
import { writeSamples, type RunInfo } from '../pipelines/sample_model.ts';
import { objectiveFromCli, previewScheduler } from './objective_options.ts';
import { Philox, type NDArray } from '../engine/index.ts';
import { folderHoldsModel, hasTopLevelModel, loadModelFolder } from '../folders/index.ts';
import { TOY2D_NAMES } from '../data/index.ts';
import { checkModelConfig, readJsonObject } from '../folders/index.ts';
import { inspectDataSource } from '../data/data_size.ts';
import { checkMemory, estimateModelResources, formatBytes, trainingBytes } from '../models/resources.ts';
import { memoryLimit } from '../models/memory_limit.ts';
import { checkOutputFolder } from './output_paths.ts';
import { applyStoredRunSettings, checkResumeFolder } from './resume_check.ts';
import { IMAGE_RECIPE, imageRecipeEdm, TOY2D_RECIPE } from '../training/recipes.ts';

export interface TrainCliOptions {
  data: string;
  model: string;
  steps: number;
  batchSize: number;
  lr: number;
  out: string;
  resume?: boolean;
  seed: number;
  warmup?: number;
  ema?: number;
  noEma?: boolean;
  predictionType?: string;
  /** 'eps' (default) or 'edm' (Karras et al. 2022 preconditioning; objective_options.ts). */
  objective?: string;
  /** --objective edm: standard deviation of the data (default 0.5). */
  sigmaData?: number;
  /** --objective edm: training noise levels ln sigma ~ N(pMean, pStd^2) (images: IMAGE_RECIPE's). */
  pMean?: number;
  pStd?: number;
  snrGamma?: number;
  learnedVariance?: boolean;
  gradAccum?: number;
  maxGradNorm?: number;
  weightDecay?: number;
  betaSchedule?: string;
  trainTimesteps?: number;
  classCond?: boolean;
  labelDropout?: number;
  checkpointEvery?: number;
  sampleEvery?: number;
  keepLast?: number;
  imageSize?: number;
  channels?: number;
  limit?: number;
  skipNonfinite?: boolean;
  quiet?: boolean;
  /** --resume: settings changed on purpose, comma-separated (lr, steps, warmup, weight-decay, max-grad-norm). */
  override?: string;
  /** Names of the options typed on the command line (others take the stored run's values on --resume); undefined: all. */
  explicit?: string[];
  /** Config keys applied to a named model (set from the toy recipe by applyToyRecipeDefaults). */
  modelOverrides?: Record<string, unknown>;
}

/** Model for the data: a registry name (shapes adapted to the data) or a config.json path. */
/** `extra`: config keys applied to a named model (e.g. the toy recipe's mlp-2d keys). */
export function resolveModel(
  spec: string,
  desc: DataDescription,
  classes: number | null,
  extra: Record<string, unknown> = {},
): DiffusionModel {
  let cfg: Record<string, unknown>;
  if (spec.endsWith('.json')) {
    // Schema check (key paths; unknown keys are warned about and dropped), then the model's own validation.
    cfg = checkModelConfig(readJsonObject(spec), `--model ${spec}`);
    const model = modelFromConfig(cfg, `--model ${spec}`);
    const c = model.toConfig() as unknown as Record<string, unknown>;
    const image = c._class_name === 'UNet2DModel';
    if (image !== (desc.sampleShape.length === 3) || c.in_channels !== desc.sampleShape[0]) {
      throw new Error(
        `--model ${spec}: in_channels = ${c.in_channels} (${image ? 'an image model' : 'a vector model'}) does not fit the data '${desc.spec}', whose samples have shape [${desc.sampleShape}]`,
      );
    }
    return model;
  }
  const overrides: Record<string, unknown> = {};
  const isUnet = (modelConfig(spec) as unknown as Record<string, unknown>)._class_name === 'UNet2DModel';
  if (isUnet) {
    if (desc.sampleShape.length !== 3)
      throw new Error(
        `--model ${spec}: an image model needs image data; '${desc.spec}' gives samples of shape [${desc.sampleShape}] (use mlp-2d)`,
      );
    const [c, h] = desc.sampleShape;
    Object.assign(overrides, { in_channels: c, out_channels: c, sample_size: h });
  } else {
    if (desc.sampleShape.length !== 1)
      throw new Error(
        `--model ${spec}: an MLP needs vector data; '${desc.spec}' gives samples of shape [${desc.sampleShape}] (use unet-s)`,
      );
    Object.assign(overrides, extra, { in_channels: desc.sampleShape[0], out_channels: desc.sampleShape[0] });
  }
  if (classes !== null) overrides.num_class_embeds = classes;
  return modelFromConfig(modelConfig(spec, overrides), `model '${spec}'`);
}

/**
 * `diffuse train --data <toy set>` with mlp-2d (a fresh run from the command line): every recipe flag the
 * user did not type (`o.explicit`) takes TOY2D_RECIPE's value (src/training/recipes.ts), the recipe the demo
 * and the playground use. Library callers (no `explicit`) and resumed runs are left as they are.
 * @example applyToyRecipeDefaults({ data: 'moons', model: 'mlp-2d', out: 'runs/m', seed: 0, explicit: [] } as TrainCliOptions).steps // TOY2D_RECIPE.steps
 */
export function applyToyRecipeDefaults(o: TrainCliOptions): TrainCliOptions {
  if (
    o.resume ||
    o.explicit === undefined ||
    o.model !== 'mlp-2d' ||
    !(TOY2D_NAMES as readonly string[]).includes(o.data)
  )
    return o;
  const r = TOY2D_RECIPE,
    typed = new Set(o.explicit);
  const set = <K extends keyof TrainCliOptions>(k: K, v: TrainCliOptions[K]) => {
    if (!typed.has(k)) o[k] = v;
  };
  set('steps', r.steps);
  set('batchSize', r.batchSize);
  set('lr', r.lr);
  set('warmup', Math.min(r.warmupSteps, Math.floor(o.steps / 10))); // a short run typed with --steps still reaches the peak lr
  set('weightDecay', r.weightDecay);
  set('maxGradNorm', r.maxGradNorm ?? undefined);
  set('predictionType', r.predictionType);
  set('snrGamma', r.snrGamma);
  set('betaSchedule', r.betaSchedule);
  set('trainTimesteps', r.trainTimesteps);
  if (!typed.has('ema') && !typed.has('noEma')) {
    o.ema = r.ema?.maxDecay;
    o.noEma = r.ema === null;
  }
  o.modelOverrides = { ...r.model, ...o.modelOverrides };
  return o;
}

/** The flags of the DDPM-style objective only: typing one of them (or `--objective eps`) keeps it on image data. */
const EPS_OBJECTIVE_FLAGS = ['predictionType', 'snrGamma', 'learnedVariance', 'betaSchedule', 'trainTimesteps'];

/** Is --data image data (MNIST or a folder of images)? */
function isImageData(spec: string): boolean {
  return spec === 'mnist' || (fs.existsSync(spec) && fs.statSync(spec).isDirectory());
}

/**
 * `diffuse train --data <mnist | image folder>` (a fresh run from the command line): every recipe flag the user
 * did not type (`o.explicit`) takes IMAGE_RECIPE's value (src/training/recipes.ts): the EDM objective with
 * sigma_data 0.5, training noise levels ln sigma ~ N(0.5, 1.2^2), lr 2e-3 with cosine decay, batch 64, EMA, clipping (also with `--objective edm` typed). Typing
 * `--objective eps` or a flag of the DDPM-style objective (--prediction-type, --snr-gamma, --learned-variance,
 * --beta-schedule, --train-timesteps) trains that objective with the previous defaults, untouched. Library callers
 * (no `explicit`) and resumed runs are left as they are.
 * @example applyImageRecipeDefaults({ data: 'mnist', model: 'unet-s', out: 'runs/m', seed: 0, steps: 2000, explicit: [] } as TrainCliOptions).objective // 'edm'
 */
export function applyImageRecipeDefaults(o: TrainCliOptions): TrainCliOptions {
  if (o.resume || o.explicit === undefined || !isImageData(o.data)) return o;
  const r = IMAGE_RECIPE,
    typed = new Set(o.explicit);
  const epsChosen = (typed.has('objective') && o.objective !== 'edm') || EPS_OBJECTIVE_FLAGS.some((k) => typed.has(k));
  if (r.objective !== 'edm' || epsChosen) return o;
  const set = <K extends keyof TrainCliOptions>(k: K, v: TrainCliOptions[K]) => {
    if (!typed.has(k)) o[k] = v;
  };
  o.objective = 'edm';
  o.predictionType = undefined; // commander's default 'epsilon' belongs to the eps objective; EDM trains F
  set('sigmaData', r.sigmaData);
  const edm = imageRecipeEdm(o.sigmaData);
  set('pMean', edm.pMean);
  set('pStd', edm.pStd);
  set('batchSize', r.batchSize);
  set('lr', r.lr);
  set('warmup', Math.min(r.warmupSteps, Math.floor(o.steps / 10)));
  set('weightDecay', r.weightDecay);
  set('maxGradNorm', r.maxGradNorm ?? undefined);
  if (!typed.has('ema') && !typed.has('noEma')) {
    o.ema = r.ema?.maxDecay;
    o.noEma = r.ema === null;
  }
  return o;
}

/** The TrainConfig of a `diffuse train` command line (after `applyToyRecipeDefaults`). */
export function trainConfigFrom(o: TrainCliOptions): TrainConfig {
  const c = defaultTrainConfig();
  const pred = (o.predictionType ?? 'epsilon') as TrainPredictionType;
  return {
    ...c,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    seed: o.seed,
    warmupSteps: o.warmup ?? Math.min(c.warmupSteps, Math.floor(o.steps / 10)),
    emaDecay: o.noEma ? null : (o.ema ?? c.emaDecay),
    weightDecay: o.weightDecay ?? c.weightDecay,
    maxGradNorm: o.maxGradNorm ?? c.maxGradNorm,
    gradAccumSteps: o.gradAccum ?? 1,
    objective: {
      predictionType: pred,
      snrGamma: o.snrGamma,
      varianceType: o.learnedVariance ? 'learned_range' : 'fixed',
      ...objectiveFromCli(o),
    },
    noiseSchedule: {
      ...c.noiseSchedule,
      beta_schedule: o.betaSchedule ?? 'linear',
      num_train_timesteps: o.trainTimesteps ?? 1000,
    },
    labelDropout: o.labelDropout ?? 0,
    checkpointEvery: o.checkpointEvery ?? Math.max(1, Math.min(1000, o.steps)),
    keepLast: o.keepLast ?? c.keepLast,
    onNonFinite: o.skipNonfinite ? 'skip' : 'stop',
  };
}

/** Refuse (one line, with the estimate) a model that cannot be trained in memory at this batch size. */
function checkTrainingMemory(o: TrainCliOptions, config: unknown, limit: ReturnType<typeof memoryLimit>): void {
  const r = estimateModelResources(config, `--model ${o.model}`);
  const bytes = trainingBytes(r, o.batchSize * 1);
  checkMemory(
    `train --model ${o.model} (${r.parameters.toLocaleString('en')} parameters, ${r.layers} layers) at --batch-size ${o.batchSize}`,
    bytes,
    limit,
    `weights ${formatBytes(r.parameterBytes)} per copy, activations ${formatBytes(r.activationBytesPerSample)} per sample`,
  );
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60),
    r = Math.round(s % 60);
  return m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** A one-line progress bar (redrawn in place on a terminal, a line every 5% otherwise). */
export function progressPrinter(quiet = false): (p: Progress) => void {
  let lastPct = -1;
  const tty = process.stderr.isTTY;
  return (p) => {
    if (quiet) return;
    const frac = p.step / p.steps;
    const width = 24,
      filled = Math.round(frac * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.itPerSec.toFixed(1)} it/s ETA ${fmtTime(p.etaSec)}`;
    if (tty) process.stderr.write(`\r${line}${p.step === p.steps ? '\n' : ''}`);
    else {
      const pct = Math.floor(frac * 20);
      if (pct !== lastPct || p.step === p.steps) {
        lastPct = pct;
        process.stderr.write(`${line}\n`);
      }
    }
  };
}

/** Run `diffuse train` with these options; returns the training result (losses, final weights, seconds). */
export async function trainCommand(o: TrainCliOptions): Promise<TrainResult> {
  checkTrainArguments(o);
  // Estimates before anything is loaded or allocated: the data from its headers, then the model at this batch size.
  const limit = memoryLimit();
  const pre = inspectDataSource(o.data, { imageSize: o.imageSize, channels: o.channels, limit: o.limit });
  let planned: DiffusionModel | null = null;
  if (pre) {
    checkMemory(`--data ${o.data} (${pre.what})`, pre.bytes, limit);
    if (!o.resume) {
      planned = resolveModel(
        o.model,
        { spec: o.data, kind: 'toy2d', sampleShape: pre.sampleShape, numClasses: null, size: null },
        null,
        o.modelOverrides,
      );
      checkTrainingMemory(o, planned.toConfig(), limit);
    }
  }
  const data = openTrainingData(o);
  const desc = data.describe();
  const config = trainConfigFrom(o);
  config.noiseSchedule.clip_sample = desc.kind === 'images'; // samples of other data are unbounded
  const classes = classEmbeddingCount(o, desc, config);
  // The model planned from the data's headers is the one to train when the shapes agree (config warnings once).
  let model =
    planned && classes === null && String(pre!.sampleShape) === String(desc.sampleShape)
      ? planned
      : resolveModel(o.model, desc, classes, o.modelOverrides);
  if (config.objective.varianceType === 'learned_range') {
    const c = model.toConfig() as unknown as Record<string, unknown>;
    if (c.out_channels === c.in_channels)
      model = modelFromConfig({ ...c, out_channels: 2 * (c.in_channels as number) }, 'model');
  }
  if (o.resume && hasTopLevelModel(o.out)) model = storedModelOfRun(o, model);
  checkTrainingMemory(o, model.toConfig(), limit);
  const log = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  log(
    `training ${className(model)} (${model.numParameters().toLocaleString('en')} parameters) on ${desc.spec} [${desc.sampleShape}] for ${config.steps} steps, batch ${config.batchSize}`,
  );
  // diffuse.json is written by each save of train() (src/folders/commit.ts), with the model it describes.
  const result = await train({
    model,
    data,
    config,
    outDir: o.out,
    resume: o.resume,
    override: o.override?.split(',').filter((x) => x.trim() !== ''),
    onProgress: progressPrinter(o.quiet),
    onSample: {
      everySteps: o.sampleEvery ?? Math.max(1, config.steps),
      fn: previewWriter(o, model, data, config),
    },
  });
  const last = result.losses.slice(-50).filter(Number.isFinite);
  const skipped = result.losses.filter((l) => !Number.isFinite(l)).length;
  log(
    `done: ${result.steps} steps in ${result.seconds.toFixed(1)} s, final loss (mean of last ${last.length}) ${(last.reduce((a, b) => a + b, 0) / Math.max(1, last.length)).toFixed(4)}${skipped ? `, ${skipped} steps skipped (non-finite)` : ''}; model in ${o.out}`,
  );
  return result;
}

/** diffusers' class name of a model (its config's _class_name). */
function className(m: DiffusionModel): unknown {
  return (m.toConfig() as unknown as Record<string, unknown>)._class_name;
}

/**
 * The checks of `diffuse train`'s arguments before anything is read: --out is free (or --resume names a run
 * to continue, whose stored settings fill what the command line leaves out), --override only with --resume,
 * the toy recipe's defaults, and --channels 1 or 3.
 */
function checkTrainArguments(o: TrainCliOptions): void {
  checkOutputFolder(o.out, '--out');
  // Refuse to touch a folder holding another run unless resuming.
  if (!o.resume && folderHoldsModel(o.out)) {
    throw new Error(
      `--out ${o.out} already holds a model; pass --resume to continue it or choose another --out (nothing was overwritten)`,
    );
  }
  // --resume on a folder with nothing to resume (a mistyped path) is an error, not a fresh start.
  if (o.resume) {
    checkResumeFolder(o.out);
    applyStoredRunSettings(o, new Set(o.explicit ?? Object.keys(o)), o.out);
  } else if (o.override !== undefined) throw new Error(`--override ${o.override}: only meaningful with --resume`);
  applyToyRecipeDefaults(o);
  applyImageRecipeDefaults(o);
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3) {
    throw new Error(
      `--channels ${o.channels}: not supported (allowed: 1 for greyscale or 3 for RGB; an alpha channel is dropped when reading)`,
    );
  }
}

/** Open --data for training; every data error names the data (a bare unknown name lists the known sets). */
function openTrainingData(o: TrainCliOptions): ReturnType<typeof openDataSource> {
  try {
    return openDataSource(o.data, {
      batchSize: o.batchSize,
      seed: o.seed,
      imageSize: o.imageSize,
      channels: o.channels as 1 | 3 | undefined,
      limit: o.limit,
    });
  } catch (e) {
    // Name the data in every data error (some readers only name the row or column).
    const m = (e as Error).message;
    if (/^--data .*: no such file or folder$/.test(m) && !/[\\/.]/.test(o.data)) {
      throw new Error(
        `--data ${o.data}: not a known data set (${[...TOY2D_NAMES, 'mnist'].join(', ')}) nor an existing file or folder`,
        { cause: e },
      );
    }
    throw m.includes(o.data) ? e : new Error(`--data ${o.data}: ${m}`, { cause: e });
  }
}

/** The model's class-embedding count: the data's classes (+1 null class with label dropout), or null. */
function classEmbeddingCount(o: TrainCliOptions, desc: DataDescription, config: TrainConfig): number | null {
  if (o.classCond) {
    if (desc.numClasses === null) throw new Error(`--class-cond: the data '${o.data}' has no class labels`);
    return desc.numClasses + (config.labelDropout > 0 ? 1 : 0);
  }
  if (o.labelDropout) throw new Error('--label-dropout needs --class-cond');
  return null;
}

/**
 * The model of the run being resumed in --out. A config file given as --model must match it exactly; a registry
 * name (adapted to the data, and to the toy recipe on a fresh run) must name the same model class.
 */
function storedModelOfRun(o: TrainCliOptions, model: DiffusionModel): DiffusionModel {
  const stored = modelFromConfig(loadModelFolder(o.out).modelConfig, path.join(o.out, 'config.json'));
  const differs = o.model.endsWith('.json')
    ? JSON.stringify(stored.toConfig()) !== JSON.stringify(model.toConfig())
    : className(stored) !== className(model);
  if ((o.explicit ?? ['model']).includes('model') && differs) {
    throw new Error(
      `--model ${o.model}: the run in ${o.out} was trained with another model (${className(stored)}, ${stored.numParameters().toLocaleString('en')} parameters); resume with the same --model, or leave --model out`,
    );
  }
  return stored;
}

/**
 * The preview of a training run at a step: 16 images or 1000 points sampled with 50 steps of the preview
 * scheduler (fixed seed, so previews of steps compare), written to --out/samples/step-NNNNNN.png for images
 * and 2-d points (with 1000 reference points beside them).
 */
function previewWriter(
  o: TrainCliOptions,
  model: DiffusionModel,
  data: ReturnType<typeof openDataSource>,
  config: TrainConfig,
): (step: number, weights: Record<string, NDArray>) => Promise<void> {
  const desc = data.describe();
  const nullClass = config.labelDropout > 0 ? nullClassOf(model) : null;
  const info = (step: number): RunInfo => ({ data: desc, nullClass, step });
  const withWeights = denoiserWithWeightInputs(model);
  const previewDir = path.join(o.out, 'samples');
  const reference = desc.kind === 'toy2d' ? data.reference(1000, o.seed + 1) : undefined;
  return async (step, weights) => {
    const n = desc.kind === 'images' ? 16 : 1000;
    const sched = previewScheduler(config.objective, config.noiseSchedule, desc.kind === 'images');
    const cond = isClassConditional(model);
    const x = await generate(withWeights(weights), sched, {
      shape: [n, ...modelSampleShape(model)],
      steps: 50,
      generator: new Philox(o.seed + 7),
      classLabels: cond ? Float32Array.from({ length: n }, (_, i) => i % (desc.numClasses ?? 1)) : undefined,
    });
    if (desc.kind === 'images' || desc.sampleShape[0] === 2) {
      fs.mkdirSync(previewDir, { recursive: true });
      writeSamples(
        path.join(previewDir, `step-${String(step).padStart(6, '0')}.png`),
        x,
        info(step),
        undefined,
        reference,
      );
    }
  };
}
