/**
 * Samplers: diffusers-compatible scheduler classes (registered by name for `schedulerFromConfig`) and
 * k-diffusion-style functional samplers.
 *
 * @example
 *   import { schedulerFromConfig, EulerDiscreteScheduler, sampleHeun } from './samplers/index.ts';
 *   const s = schedulerFromConfig(null, JSON.parse(fs.readFileSync('scheduler_config.json', 'utf8')));
 *   const euler = EulerDiscreteScheduler.fromConfig(s.toConfig());   // swap samplers on one config
 */
export * from './scheduler.ts';
export { drawNoise, splitChannels } from './step_utils.ts';
export { DDPMScheduler } from './ddpm.ts';
export { vpPredOriginal, vpPredEpsilon, clipOrThreshold } from './vp_math.ts';
export { DDIMScheduler } from './ddim.ts';
export { DDIMInverseScheduler } from './ddim_inverse.ts';
export { RePaintScheduler, repaintTimesteps } from './repaint.ts';
export type { RePaintStepOptions, RePaintTimestepsOptions } from './repaint.ts';
export { PNDMScheduler } from './pndm.ts';
export {
  SigmaScheduler,
  kSigmaSchedule,
  floatSpacedTimesteps,
  kPredOriginal,
  scaleBySigma,
  sigmaScheduleFromConfig,
  withFinalSigma,
} from './sigma_scheduler.ts';
export type { SigmaScheduleKind, KSigmaScheduleOptions } from './sigma_scheduler.ts';
export { EulerDiscreteScheduler } from './euler.ts';
export { EulerAncestralDiscreteScheduler } from './euler_ancestral.ts';
export { HeunDiscreteScheduler } from './heun.ts';
export { KDPM2DiscreteScheduler } from './kdpm2.ts';
export { LMSDiscreteScheduler } from './lms.ts';
export { gaussKronrod21, lmsCoefficient } from './lms_coefficient.ts';
export * from './k_sampling.ts';
export * from './k_dpmpp.ts';
export { DPMSolverMultistepScheduler } from './dpmsolver_multistep.ts';
export { DPMSolverSinglestepScheduler } from './dpmsolver_singlestep.ts';
export { UniPCMultistepScheduler } from './unipc.ts';
export { DEISMultistepScheduler } from './deis.ts';
export { EdmScheduler, EDM_KEYS, edmSigmaGridF64, edmSigmaGridF32 } from './edm_scheduler.ts';
export { EDMEulerScheduler } from './edm_euler.ts';
export { EDMDPMSolverMultistepScheduler } from './edm_dpmsolver_multistep.ts';
export { ScoreSdeVeScheduler } from './score_sde_ve.ts';
export type { SdeVeStepOutput } from './score_sde_ve.ts';
export { sampleEdm, edmSigmas } from './edm_sampler.ts';
export type { EdmSamplerOptions } from './edm_sampler.ts';
export { samplePc } from './pc_sampling.ts';
export type { PcOptions, PcPredictor, MaybeAsyncDenoiser } from './pc_sampling.ts';
export { VeSde, VpSde, scoreFromDenoiserAt, type Sde } from '../diffusion/sde.ts';
export { edmPreconditioning, edmDenoised, scoreFromDenoised } from '../diffusion/edm.ts';
export { churnAt, type Churn, type ChurnParams } from './churn.ts';
export { LCMScheduler } from './lcm.ts';
export type { LcmStepOutput, LcmSetTimestepsOptions, LcmConfig } from './lcm.ts';
export { CMStochasticIterativeScheduler, karrasFromRamp, cmSigmaToT } from './cm_stochastic_iterative.ts';
export type { CmStepOutput, CmStochasticIterativeConfig } from './cm_stochastic_iterative.ts';
