/**
 * Everything the playground takes from the toolkit, in one place, through the package's browser
 * entry point `diffuse/web` (src/web.ts): no Node-only module is reachable from it. The math is the
 * toolkit's own — the same traced graphs, schedules and scheduler classes the Node.js CLI runs.
 * The page's main thread uses only the light names (arrays, schedules, toy data, scheduler names);
 * the model worker uses the rest, the onnxruntime-web backend included.
 */
export {
  NDArray,
  Philox,
  compile,
  setBackend,
  webBackend,
  hasWebGpu,
  BETA_SCHEDULES,
  betasFor,
  alphasFromBetas,
  addNoise,
  epsToScore,
  TOY2D_NAMES,
  toy2d,
  createModel,
  modelConfig,
  modelFromConfig,
  withParams,
  checkParams,
  DiffusionObjective,
  diffusionLoss,
  TrainStep,
  Ema,
  warmupCosine,
  TOY2D_RECIPE,
  generate,
  denoiserFor,
  denoiserWithWeightInputs,
  SCHEDULER_ALIASES,
  samplingScheduler,
  DDPMScheduler,
  DDIMScheduler,
  parseSafetensors,
  mmdRbf,
  medianSqDistance,
  MnistClassifier,
  type RandomGenerator,
  type Toy2dDataset,
  type DiffusionModel,
  type AsyncModelFn,
  type Scheduler,
} from '../../src/web.ts';
// The inpainting API (docs/editing.md) and the MMD ratio to the fresh-data floor (the demo's number).
export { inpaint, mmdRatio, type InpaintOptions } from '../../src/web.ts';
// Any model formulation (an EDM-trained digit model included) as the chosen scheduler calls it (src/pipelines/formulation.ts).
export { adaptModelToScheduler } from '../../src/web.ts';
