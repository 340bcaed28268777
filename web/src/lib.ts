/**
 * Everything the playground takes from the toolkit, in one place: only modules without Node-only
 * imports (the browser bundle must not pull fs, path, crypto or os). The math is the toolkit's own —
 * the same traced graphs, schedules and scheduler classes the Node.js CLI runs.
 */
export { NDArray, Philox, compile, setBackend, type RandomGenerator } from '../../src/engine/index.ts';
export { webBackend, hasWebGpu } from '../../src/engine/runtime_web.ts';
export { BETA_SCHEDULES, betasFor, alphasFromBetas } from '../../src/schedules/index.ts';
export { addNoise } from '../../src/diffusion/forward.ts';
export { epsToScore } from '../../src/diffusion/parameterization.ts';
export { TOY2D_NAMES, toy2d, type Toy2dDataset } from '../../src/data/toy2d.ts';
export { createModel, modelFromConfig, type DiffusionModel } from '../../src/models/registry.ts';
export { withParams, checkParams } from '../../src/nn/module.ts';
export { DiffusionObjective, diffusionLoss } from '../../src/training/objectives.ts';
export { TrainStep } from '../../src/training/train_step.ts';
export { Ema } from '../../src/training/ema.ts';
export { warmupCosine } from '../../src/training/lr_schedule.ts';
export { generate, type AsyncModelFn } from '../../src/pipelines/generate.ts';
export { denoiserFor, denoiserWithWeightInputs } from '../../src/pipelines/denoiser.ts';
export { SCHEDULER_ALIASES, samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
export { DDPMScheduler } from '../../src/samplers/index.ts';
export type { Scheduler } from '../../src/samplers/scheduler.ts';
export { parseSafetensors } from '../../src/io/safetensors_bytes.ts';
export { mmdRbf, medianSqDistance } from '../../src/eval/mmd.ts';
