/**
 * Train a diffusion model on your own data in one call: plain arrays in, a ready pipeline out.
 *
 * Defaults come from the data: vectors of D numbers train `mlp-2d` (widened to D inputs) with the
 * measured toy recipe (TOY2D_RECIPE); images [C, H, H] train `unet-s` (C channels, size H) with the measured
 * image recipe (IMAGE_RECIPE: the EDM objective, sigma_data 0.5, lr 2e-3; an explicit `objective: 'eps'`,
 * `predictionType`, `snrGamma`, `betaSchedule` or `trainTimesteps` trains the DDPM-style objective with the
 * previous defaults, and so does fine-tuning a PretrainedModel). An
 * output folder is optional: with `outDir`, checkpoints and the final model are written there in
 * diffusers' layout (and `resume: true` continues a run); without it nothing touches the disk.
 *
 * @example
 *   import { train, Philox } from 'diffuse';
 *   const ring = Array.from({ length: 2048 }, (_, i) => [2 * Math.cos(i), 2 * Math.sin(i)]);
 *   const { pipeline } = await train({ data: ring, steps: 200, onProgress: (p) => console.log(p.step, p.loss) });
 *   const points = await pipeline.withScheduler('dpmsolver++').generate({ batchSize: 100, numInferenceSteps: 20, generator: new Philox(1) });
 */
import { NDArray } from '../engine/index.ts';
import { StandardScaler } from '../data/standardize.ts';
import { modelConfig, modelFromConfig } from '../models/registry.ts';
import { DDPMScheduler } from '../samplers/index.ts';
import {
  defaultTrainConfig,
  nullClassOf,
  train as runTraining,
  type Progress,
  type TrainConfig,
} from '../training/trainer.ts';
import { IMAGE_RECIPE, imageRecipeEdm, recipeTrainConfig, TOY2D_RECIPE } from '../training/recipes.ts';
import { EdmObjective } from '../training/edm_objective.ts';
import { samplingScheduler } from '../pipelines/scheduler_choice.ts';
import type { TrainPredictionType } from '../training/objectives.ts';
import type { RunInfo } from '../folders/run_info.ts';
import { warn } from '../io/warn.ts';
import { DDPMPipeline } from './ddpm_pipeline.ts';
import { PretrainedModel } from './pretrained_model.ts';
import { dataSourceFrom, type PlainData } from './plain_data.ts';

export type { Progress } from '../training/trainer.ts';

/** Options of `train`. Everything but `data` has a default. */
export interface TrainOnDataOptions {
  /** Samples along the first axis: NDArray, nested arrays, a Float32Array (+ sampleShape), or an (async) iterable of batches. */
  data: PlainData;
  /** Shape of one sample for a flat Float32Array. */
  sampleShape?: readonly number[];
  /** Integer class labels, one per sample: trains a class-conditional model. */
  labels?: ArrayLike<number>;
  /** Number of classes (default: max label + 1). */
  numClasses?: number;
  /** Share of labels replaced by a null class (enables classifier-free guidance), default 0. */
  labelDropout?: number;
  /**
   * The network: a PretrainedModel (training continues from its weights: fine-tuning), a named config
   * ('mlp-2d', 'unet-s') or a config object. Default: shaped to the data (see the file comment).
   */
  model?: PretrainedModel | string | Record<string, unknown>;
  steps?: number;
  batchSize?: number;
  /** Peak AdamW learning rate (linear warm-up, then cosine decay). */
  lr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  maxGradNorm?: number | null;
  gradAccumSteps?: number;
  /** EMA max decay, or null for none. */
  emaDecay?: number | null;
  /**
   * 'edm' (Karras et al. 2022 preconditioned denoiser; default for images, IMAGE_RECIPE) or 'eps' (DDPM-style,
   * with predictionType / snrGamma / betaSchedule; default for vectors and when fine-tuning a PretrainedModel).
   */
  objective?: 'eps' | 'edm';
  /** objective 'edm': the data's standard deviation (default IMAGE_RECIPE.sigmaData, 0.5). */
  sigmaData?: number;
  /**
   * objective 'edm': the training noise levels, ln sigma ~ N(pMean, pStd^2) (images: IMAGE_RECIPE's 0.5 and 1.2
   * at sigma_data 0.5, scaled with sigmaData; vectors: EDM's -1.2 and 1.2, scaled the same way).
   */
  pMean?: number;
  pStd?: number;
  predictionType?: TrainPredictionType;
  /** min-SNR-gamma loss weighting. */
  snrGamma?: number;
  /** diffusers beta_schedule of the training noise schedule ('linear', 'squaredcos_cap_v2', ...). */
  betaSchedule?: string;
  trainTimesteps?: number;
  /**
   * Standardise each column of vector data to mean 0, std 1 (samples come back in data units).
   * Default false; a warning suggests it when the data's scale is far from 1.
   */
  standardize?: boolean;
  seed?: number;
  /** Folder for checkpoints and the final model (diffusers layout). Default: none (nothing written). */
  outDir?: string;
  checkpointEvery?: number;
  /** Continue the newest checkpoint in outDir. */
  resume?: boolean;
  /** Called after every step: step, steps, loss, lr, it/s, ETA seconds. */
  onProgress?: (p: Progress) => void;
  /** Stop early (a checkpoint is written when outDir is set). */
  signal?: AbortSignal;
}

/** What `train` returns. */
export interface TrainOnDataResult {
  /** The trained model (EMA weights when EMA is on) and its training schedule, ready to sample. */
  pipeline: DDPMPipeline;
  model: PretrainedModel;
  losses: number[];
  steps: number;
  seconds: number;
}

/** Train a model on plain data (see the file comment). */
export async function train(o: TrainOnDataOptions): Promise<TrainOnDataResult> {
  const seed = o.seed ?? 0;
  const vectorDefaults = recipeTrainConfig(TOY2D_RECIPE, { seed });
  // images: IMAGE_RECIPE's batch (64, the trainer's default too, so it holds for either objective)
  const batchSize = o.batchSize ?? (isImageShape(peekShape(o)) ? IMAGE_RECIPE.batchSize : vectorDefaults.batchSize);
  const { data, scaler } = standardized(o);
  const source = await dataSourceFrom(data, {
    batchSize,
    seed,
    sampleShape: o.sampleShape,
    labels: o.labels,
    numClasses: o.numClasses,
  });
  const desc = source.describe();
  const images = desc.kind === 'images';
  if (images) warnIfOutsideUnitRange(data);
  else if (!scaler) warnIfFarFromUnitScale(data);

  const labelDropout = o.labelDropout ?? 0;
  const module = buildModel(o.model, desc.sampleShape, desc.numClasses, labelDropout);
  const objective = objectiveOf(o, images);
  // images: IMAGE_RECIPE for EDM training; the DDPM-style objective keeps the previous defaults
  const base: TrainConfig = images
    ? objective.formulation === 'edm'
      ? imageDefaults(seed)
      : { ...defaultTrainConfig(), seed }
    : vectorDefaults;
  const config: TrainConfig = {
    ...base,
    steps: o.steps ?? base.steps,
    batchSize,
    lr: o.lr ?? base.lr,
    warmupSteps: o.warmupSteps ?? Math.min(base.warmupSteps, Math.floor((o.steps ?? base.steps) / 10)),
    weightDecay: o.weightDecay ?? base.weightDecay,
    maxGradNorm: o.maxGradNorm === undefined ? base.maxGradNorm : o.maxGradNorm,
    gradAccumSteps: o.gradAccumSteps ?? 1,
    emaDecay: o.emaDecay === undefined ? base.emaDecay : o.emaDecay,
    objective: {
      ...base.objective,
      predictionType: o.predictionType ?? base.objective.predictionType,
      snrGamma: o.snrGamma ?? base.objective.snrGamma,
      ...objective,
    },
    noiseSchedule: {
      ...base.noiseSchedule,
      ...(o.betaSchedule !== undefined ? { beta_schedule: o.betaSchedule } : {}),
      ...(o.trainTimesteps !== undefined ? { num_train_timesteps: o.trainTimesteps } : {}),
      clip_sample: images,
    },
    labelDropout,
    checkpointEvery: o.checkpointEvery ?? base.checkpointEvery,
  };
  const nullClass = labelDropout > 0 ? nullClassOf(module) : null;
  const info: RunInfo = { data: scaler ? { ...desc, scaler: scaler.toJSON() } : desc, nullClass, step: 0 };

  // The saves write diffuse.json from the data's description (src/folders/commit.ts): it carries the scaler.
  const described = scaler ? { ...source, describe: () => info.data } : source;
  const result = await runTraining({
    model: module,
    data: described,
    config,
    outDir: o.outDir,
    resume: o.resume,
    onProgress: o.onProgress,
    initialWeights: o.model instanceof PretrainedModel ? o.model.weights : undefined,
    afterStep: o.signal ? () => o.signal!.aborted : undefined,
  });
  info.step = result.steps;
  const model = new PretrainedModel(module, result.weights);
  const trainingConfig =
    config.objective.formulation === 'edm'
      ? new EdmObjective(config.objective.edm).schedulerConfig()
      : { ...config.noiseSchedule, prediction_type: config.objective.predictionType ?? 'epsilon' };
  // an EDM model samples with the class its folder records (no name = the folder's own), as `diffuse sample` does
  const scheduler =
    config.objective.formulation === 'edm'
      ? samplingScheduler(undefined, trainingConfig, { clip_sample: images })
      : new DDPMScheduler(trainingConfig);
  return {
    pipeline: new DDPMPipeline(model, scheduler, info, trainingConfig),
    model,
    losses: result.losses,
    steps: result.steps,
    seconds: result.seconds,
  };
}

/** The library's defaults for images: defaultTrainConfig with IMAGE_RECIPE's optimiser values. */
function imageDefaults(seed: number): TrainConfig {
  const r = IMAGE_RECIPE;
  return {
    ...defaultTrainConfig(),
    seed,
    batchSize: r.batchSize,
    lr: r.lr,
    warmupSteps: r.warmupSteps,
    minLr: r.minLr,
    weightDecay: r.weightDecay,
    maxGradNorm: r.maxGradNorm,
    emaDecay: r.ema ? r.ema.maxDecay : null,
    emaPower: r.ema ? r.ema.power : 0.75,
  };
}

/** The formulation keys of the objective: EDM for images unless the caller chose the DDPM-style objective. */
function objectiveOf(o: TrainOnDataOptions, images: boolean): Pick<TrainConfig['objective'], 'formulation' | 'edm'> {
  const epsKey = (['predictionType', 'snrGamma', 'betaSchedule', 'trainTimesteps'] as const).find(
    (k) => o[k] !== undefined,
  );
  if (o.objective !== undefined && o.objective !== 'eps' && o.objective !== 'edm')
    throw new Error(`objective: '${o.objective}' is not supported (allowed: 'eps', 'edm')`);
  const fineTune = o.model instanceof PretrainedModel;
  const name = o.objective ?? (images && !epsKey && !fineTune ? IMAGE_RECIPE.objective : 'eps');
  if (name === 'eps') {
    for (const k of ['sigmaData', 'pMean', 'pStd'] as const)
      if (o[k] !== undefined) throw new Error(`${k}: ${o[k]} is only used with objective 'edm'`);
    return {};
  }
  if (epsKey && !(epsKey === 'predictionType' && o.predictionType === 'epsilon'))
    throw new Error(`${epsKey}: belongs to objective 'eps'; objective 'edm' trains EDM's preconditioned network`);
  // undefined keys take EdmObjective's defaults (EDM's values, scaled with sigma_data)
  const recipe = images ? imageRecipeEdm(o.sigmaData) : undefined;
  return {
    formulation: 'edm',
    edm: { sigmaData: o.sigmaData ?? recipe?.sigmaData, pMean: o.pMean ?? recipe?.pMean, pStd: o.pStd ?? recipe?.pStd },
  };
}

function peekShape(o: TrainOnDataOptions): readonly number[] | null {
  if (o.sampleShape) return o.sampleShape;
  if (o.data instanceof NDArray) return o.data.shape.slice(1);
  if (Array.isArray(o.data)) return NDArray.from(o.data[0] ?? []).shape;
  return null;
}

function isImageShape(shape: readonly number[] | null): boolean {
  return shape !== null && shape.length === 3;
}

/** The data standardised per column when asked (vector data only), with the scaler to undo it. */
function standardized(o: TrainOnDataOptions): { data: PlainData; scaler: StandardScaler | null } {
  if (!o.standardize) return { data: o.data, scaler: null };
  const x = o.data instanceof NDArray ? o.data : Array.isArray(o.data) ? NDArray.from(o.data) : null;
  if (!x || x.ndim !== 2)
    throw new Error(
      'standardize: needs vector data given as an array [N, D] (standardise a stream of batches yourself)',
    );
  const scaler = StandardScaler.fit(x);
  const D = x.shape[1];
  return { data: x.map((v, i) => (v - scaler.mean[i % D]) / scaler.std[i % D]), scaler };
}

function range(data: PlainData): [number, number] | null {
  const x =
    data instanceof NDArray
      ? data
      : Array.isArray(data)
        ? NDArray.from(data)
        : data instanceof Float32Array
          ? new NDArray([data.length], data)
          : null;
  if (!x) return null;
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < x.size; i++) {
    const v = x.data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function warnIfOutsideUnitRange(data: PlainData): void {
  const r = range(data);
  if (r && (r[0] < -1.001 || r[1] > 1.001)) {
    warn(
      `data: image values span [${r[0].toPrecision(3)}, ${r[1].toPrecision(3)}]; image models expect [-1, 1] (scale pixels as 2 * p / 255 - 1); samples are clipped to [-1, 1] only when the training data was in that range`,
    );
  }
}

function warnIfFarFromUnitScale(data: PlainData): void {
  const r = range(data);
  if (r && Math.max(Math.abs(r[0]), Math.abs(r[1])) > 20) {
    warn(
      `data: values reach ${Math.max(Math.abs(r[0]), Math.abs(r[1])).toPrecision(3)}; the noise has unit scale, so pass standardize: true (samples come back in data units)`,
    );
  }
}

/** The model for this data: the one given, or mlp-2d / unet-s shaped to it. */
function buildModel(
  model: TrainOnDataOptions['model'],
  sampleShape: readonly number[],
  numClasses: number | null,
  labelDropout: number,
) {
  if (model instanceof PretrainedModel) return model.module;
  const classes = numClasses === null ? null : numClasses + (labelDropout > 0 ? 1 : 0);
  if (model !== undefined && typeof model === 'object') return modelFromConfig(model);
  const images = sampleShape.length === 3;
  const name = model ?? (images ? 'unet-s' : 'mlp-2d');
  if (images) {
    const [C, H, W] = sampleShape;
    if (H !== W)
      throw new Error(`data: images of ${H}x${W}; the default UNet needs square images (pass a model config)`);
    return modelFromConfig(
      modelConfig(name, { in_channels: C, out_channels: C, sample_size: H, num_class_embeds: classes }),
    );
  }
  if (sampleShape.length !== 1)
    throw new Error(
      `data: samples of shape [${sampleShape.join(', ')}]; vectors [D] or images [C, H, W] are supported`,
    );
  const D = sampleShape[0];
  return modelFromConfig(
    modelConfig(name, { ...TOY2D_RECIPE.model, in_channels: D, out_channels: D, num_class_embeds: classes }),
  );
}
