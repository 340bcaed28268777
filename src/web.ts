/**
 * diffuse in the browser (`'diffuse/web'`): the same models, schedulers, traced graphs and training
 * step as in Node.js, with no Node.js module anywhere in its imports, plus the onnxruntime-web
 * backend (wasm; WebGPU when the browser has an adapter).
 *
 * @example
 *   import { setBackend, webBackend, DDPMScheduler } from 'diffuse/web';
 *   setBackend(await webBackend({ wasmPaths: '/ort/' }));   // before the first compile()
 */
export {
  NDArray,
  Philox,
  TorchGenerator,
  compile,
  setBackend,
  type RandomGenerator,
  type Executable,
} from './engine/index.ts';
export { webBackend, hasWebGpu, type WebBackendOptions } from './engine/runtime_web.ts';

// Models with weights and the pipeline (fromPretrained / savePretrained need Node.js; use fromConfig + weights here).
export { PretrainedModel, UNet2DModel, MLPModel } from './api/pretrained_model.ts';
export { DDPMPipeline, type GenerateCallOptions } from './api/ddpm_pipeline.ts';

// Schedules, the diffusion process, schedulers and the sampling loop.
export { BETA_SCHEDULES, betasFor, alphasFromBetas } from './schedules/index.ts';
export { addNoise, getVelocity } from './diffusion/forward.ts';
export { epsToScore, predictionToX0 } from './diffusion/parameterization.ts';
export {
  Scheduler,
  schedulerFromConfig,
  registeredSchedulers,
  DDPMScheduler,
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  UniPCMultistepScheduler,
  EulerDiscreteScheduler,
  HeunDiscreteScheduler,
} from './samplers/index.ts';
export { SCHEDULER_ALIASES, samplingScheduler } from './pipelines/scheduler_choice.ts';
export { adaptModelToScheduler } from './pipelines/formulation.ts';
export { generate, type AsyncModelFn, type GenerateOptions } from './pipelines/generate.ts';
export { denoiserFor, denoiserWithWeightInputs } from './pipelines/denoiser.ts';

// Models and training in the page.
export { createModel, modelFromConfig, modelConfig, type DiffusionModel } from './models/registry.ts';
export { withParams, checkParams } from './nn/module.ts';
export { DiffusionObjective, diffusionLoss } from './training/objectives.ts';
export { TrainStep } from './training/train_step.ts';
export { Ema } from './training/ema.ts';
export { warmupCosine } from './training/lr_schedule.ts';
export { TOY2D_RECIPE, recipeTrainConfig } from './training/recipes.ts';

// Data, weights from bytes, metrics.
export { TOY2D_NAMES, toy2d, type Toy2dDataset } from './data/toy2d.ts';
export { parseSafetensors } from './io/safetensors_bytes.ts';
export { mmdRbf, medianSqDistance } from './eval/metrics/mmd.ts';
export { mmdRatio, type MmdRatio } from './eval/metrics/mmd_ratio.ts';
export { inpaint, repaint, type InpaintOptions } from './pipelines/inpaint.ts';
export { RePaintScheduler } from './samplers/repaint.ts';
export { rectangleMask, maskFromImage, knownCoordinatesMask, broadcastMask, mergeKnown } from './pipelines/mask.ts';
export { img2img } from './pipelines/img2img.ts';
export { ddimInvert, ddimDecode } from './pipelines/invert.ts';
export { slerp, interpolationPath } from './pipelines/interpolate.ts';
export { classifierGuidedModel, ClassifierGradient } from './pipelines/classifier_guidance.ts';
export { NoisyClassifier } from './models/noisy_classifier.ts';
export { MnistClassifier } from './models/mnist_classifier_net.ts';
