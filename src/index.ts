/**
 * diffuse — diffusion models for JavaScript: train on your own data, sample with fast solvers,
 * measure, export; Node.js and the browser. This is the package's main entry point (`'diffuse'`).
 *
 * Other entry points: `diffuse/engine` (trace, autodiff, ONNX Runtime: write your own model),
 * `diffuse/samplers` (every scheduler and the functional k-diffusion samplers), `diffuse/web`
 * (the browser build: no Node.js modules, onnxruntime-web backend).
 *
 * @example
 *   import { train, Philox } from 'diffuse';
 *   const { pipeline } = await train({ data: myPoints, steps: 2000 });
 *   const samples = await pipeline.withScheduler('dpmsolver++').generate({ batchSize: 500, numInferenceSteps: 20, generator: new Philox(0) });
 */

// The diffusers-shaped objects: models with weights, pipelines, training on plain data.
export { PretrainedModel, UNet2DModel, MLPModel, type FromConfigOptions } from './api/pretrained_model.ts';
export { DDPMPipeline, type GenerateCallOptions } from './api/ddpm_pipeline.ts';
export { train, type TrainOnDataOptions, type TrainOnDataResult, type Progress } from './api/train.ts';
export { dataSourceFrom, type PlainData, type PlainBatch, type PlainDataOptions } from './api/plain_data.ts';
export type { SaveOptions } from './api/folder.ts';

// Arrays and randomness.
export { NDArray, Philox, TorchGenerator, type RandomGenerator } from './engine/index.ts';

// Schedulers (diffusers' names, config keys and numerics) and the sampling loop.
export {
  Scheduler,
  schedulerFromConfig,
  registeredSchedulers,
  DDPMScheduler,
  DDIMScheduler,
  DDIMInverseScheduler,
  PNDMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  HeunDiscreteScheduler,
  KDPM2DiscreteScheduler,
  LMSDiscreteScheduler,
  DPMSolverMultistepScheduler,
  DPMSolverSinglestepScheduler,
  UniPCMultistepScheduler,
  DEISMultistepScheduler,
  type SchedulerConfig,
  type StepOptions,
  type StepOutput,
  type SetTimestepsOptions,
} from './samplers/index.ts';
export { EDMEulerScheduler } from './samplers/edm_euler.ts';
export { EDMDPMSolverMultistepScheduler } from './samplers/edm_dpmsolver_multistep.ts';
export { ScoreSdeVeScheduler } from './samplers/score_sde_ve.ts';
export {
  LCMScheduler,
  type LcmConfig,
  type LcmSetTimestepsOptions,
  type LcmStepOutput,
} from './samplers/lcm.ts';
export {
  CMStochasticIterativeScheduler,
  type CmStepOutput,
  type CmStochasticIterativeConfig,
} from './samplers/cm_stochastic_iterative.ts';
export { RePaintScheduler, repaintTimesteps } from './samplers/repaint.ts';
export { sampleEdm, edmSigmas, type EdmSamplerOptions } from './samplers/edm_sampler.ts';
export { samplePc, type PcOptions } from './samplers/pc_sampling.ts';
export { SCHEDULER_ALIASES, samplingScheduler } from './pipelines/scheduler_choice.ts';
export { generate, type AsyncModelFn, type GenerateOptions } from './pipelines/generate.ts';
export {
  adaptModelToScheduler,
  modelFormulation,
  denoiserOfModel,
  generateScoreSde,
  type ModelFormulation,
} from './pipelines/formulation.ts';

// Editing with a trained model: inpainting (replacement, RePaint), image-to-image (SDEdit), DDIM
// inversion and interpolation, classifier guidance.
export {
  inpaint,
  repaint,
  noiseFill,
  maskedMse,
  type InpaintOptions,
  type RePaintOptions,
} from './pipelines/inpaint.ts';
export {
  rectangleMask,
  maskFromImage,
  knownCoordinatesMask,
  maskFromMissing,
  parseRegion,
  broadcastMask,
  mergeKnown,
  NAMED_REGIONS,
} from './pipelines/mask.ts';
export { readMaskImage } from './pipelines/mask_file.ts';
export { img2img, img2imgTimesteps, type Img2ImgOptions } from './pipelines/img2img.ts';
export { ddimInvert, ddimDecode, reconstructionMse, type InversionOptions } from './pipelines/invert.ts';
export { slerp, interpolationPath } from './pipelines/interpolate.ts';
export { editingSampler, type EditingSamplerOptions } from './pipelines/editing_model.ts';
export {
  classifierGuidedModel,
  ClassifierGradient,
  type ClassifierGuidanceOptions,
  type ClassLogProbGradient,
} from './pipelines/classifier_guidance.ts';
export { NoisyClassifier, type NoisyClassifierConfig } from './models/noisy_classifier.ts';
export { trainNoisyClassifier, type NoisyClassifierTrainOptions } from './training/train_noisy_classifier.ts';
export { saveNoisyClassifier, loadNoisyClassifier } from './pipelines/classifier_folder.ts';

// The diffusion process.
export { addNoise, getVelocity } from './diffusion/forward.ts';
export {
  predictionToX0,
  predictionToEps,
  epsToScore,
  scoreToEps,
  type PredictionType,
} from './diffusion/parameterization.ts';
export { GaussianMixture, type GaussianMixtureSpec } from './data/gaussian_mixture.ts';
export { conditionalGaussianMixture, ksStatistic, mixtureCdf1d } from './data/gmm_conditional.ts';
export { betasFor, alphasFromBetas, BETA_SCHEDULES } from './schedules/index.ts';
export {
  EDM_DEFAULTS,
  edmPreconditioning,
  edmDenoised,
  edmOutputFromDenoised,
  edmLossWeight,
  sampleLogNormalSigmas,
  vpOutputToDenoised,
  denoisedToVpOutput,
  scoreFromDenoised,
  denoisedFromScore,
} from './diffusion/edm.ts';
export { VeSde, VpSde, scoreFromDenoiserAt, type Sde } from './diffusion/sde.ts';

// Training building blocks (the named recipe, the compiled step, EMA, learning-rate schedule).
export {
  TOY2D_RECIPE,
  IMAGE_RECIPE,
  imageRecipeEdm,
  recipeTrainConfig,
  withRecipeOverrides,
  type ToyRecipe,
  type ImageRecipe,
} from './training/recipes.ts';
export { defaultTrainConfig, type TrainConfig } from './training/trainer.ts';
export { TrainStep } from './training/train_step.ts';
export { Ema } from './training/ema.ts';
export { warmupCosine } from './training/lr_schedule.ts';
export { EdmObjective, edmLoss, type EdmObjectiveConfig } from './training/edm_objective.ts';
export { progressiveDistill, distillationTarget, type DistillOptions, type DistillResult } from './training/distill.ts';
export {
  consistencyDistill,
  consistencyGrid,
  consistencyLoss,
  teacherOdeStep,
  type ConsistencyDistillOptions,
  type ConsistencyDistillResult,
  type ConsistencyMetric,
} from './training/consistency_distill.ts';
export { consistencyPreconditioning, consistencyOutput } from './diffusion/consistency.ts';

// Data sets.
export { toy2d, sampleToy2d, TOY2D_NAMES, type Toy2dName, type Toy2dDataset } from './data/toy2d.ts';
export { mnistSplit } from './data/mnist.ts';
export { loadMnist, type MnistData } from './data/mnist.ts';
export { loadImageFolder, type ImageFolderData, type ImageFolderOptions } from './data/image_folder.ts';
export { loadTabular, type TabularData } from './data/tabular.ts';
export { loadSeries, type SeriesData } from './data/series.ts';
export { StandardScaler } from './data/standardize.ts';

// Measuring.
export { mmdRbf, medianSqDistance } from './eval/metrics/mmd.ts';
export { slicedWasserstein } from './eval/metrics/sliced_wasserstein.ts';
export { meanLogDensity } from './eval/metrics/log_density.ts';
export { frechetDistance, gaussianStats } from './eval/metrics/frechet.ts';
export { loadMnistClassifier } from './eval/metrics/mnist_classifier.ts';
export { evaluateModelFolder, type EvaluateOptions, type EvalReport } from './eval/runs/evaluate.ts';
export { variationalBound } from './eval/metrics/vlb.ts';
export { pfOdeLikelihood } from './eval/metrics/pf_ode_likelihood.ts';

// Model folders: diffusers layouts (pipeline, bare model, diffuse's flat layout, checkpoints), weights
// dtypes (F16/BF16/F32/F64 read; f32 or f16 written), the commit protocol of training saves, the lock.
export {
  loadPipelineFolder,
  loadModelFolder,
  writeModelFolder,
  detectLayout,
  folderHoldsModel,
  DEFAULT_SCHEDULER_CONFIG,
  readWeights,
  writeWeights,
  locateWeights,
  parseWeightsDtype,
  commitTrainingSave,
  verifyTopLevelModel,
  repairTopLevelModel,
  resumeLatestCheckpoint,
  writeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  listCheckpoints,
  latestCheckpoint,
  acquireFolderLock,
  acquireFileLock,
  withFolderLock,
  withFileLock,
  FolderLockError,
  readRunInfo,
  writeRunInfo,
  readModelConfigFile,
  readSchedulerConfigFile,
  type LoadedModel,
  type ModelFolder,
  type ModelFiles,
  type FolderLayout,
  type WeightsDtype,
  type CheckpointData,
  type TrainingSave,
  type FolderLock,
  type LockInfo,
  type RunInfo,
} from './folders/index.ts';

// Model configs (diffusers' UNet2DModel keys, validated) and old checkpoints' names.
export {
  validateUNet2DConfig,
  UNET2D_CONFIG_SCHEMA,
  UNET2D_KEYS,
  DOWN_BLOCK_TYPES,
  UP_BLOCK_TYPES,
  type UNet2DConfig,
} from './models/unet2d_config.ts';
export { upgradeLegacyAttentionNames } from './models/unet2d_legacy.ts';
export { modelConfig, modelFromConfig, createModel, MODEL_NAMES, type DiffusionModel } from './models/registry.ts';
export {
  exportImageFolder,
  exportDataSet,
  type ExportImageFolderOptions,
  type ExportDataSetOptions,
} from './data/export_image_folder.ts';
export { mmdRatio, mmdRbfBiased, type MmdRatio } from './eval/metrics/mmd_ratio.ts';
export {
  renderScatterComparison,
  writeScatterComparisonPng,
  type ScatterComparisonOptions,
} from './eval/plots/scatter_compare.ts';

// Resources: memory and depth estimated from a config before anything is allocated; resume checks.
export {
  estimateModelResources,
  checkModelDepth,
  checkMemory,
  trainingBytes,
  samplingBytes,
  sampleChunkSize,
  formatBytes,
  parseBytes,
  ResourceLimitError,
  type ModelResources,
  type MemoryLimit,
} from './models/resources.ts';
export { memoryLimit } from './models/memory_limit.ts';
export { inspectDataSource, type DataSizeEstimate } from './data/data_size.ts';
export { checkResumeConfig, type ResumeDifference } from './training/resume_config.ts';

// Files: pictures, tables, weights.
export { writePng, readImage, encodePng } from './io/png.ts';
export { writeScatterPng, scatterPng } from './io/scatter.ts';
export { writeGif, encodeGif, trajectoryFrames } from './io/gif.ts';
export { readCsv, writeCsv } from './io/csv.ts';
export { readSafetensors, writeSafetensors } from './io/safetensors.ts';
