/**
 * Choosing the sampling scheduler for a trained model: short aliases (ddim, dpmsolver++, unipc, ...)
 * or diffusers class names, built on the model's training schedule the way diffusers'
 * `XScheduler.from_config(pipeline.scheduler.config)` swaps schedulers. No file system here: the CLI
 * (sample_model.ts) and the browser playground share it.
 *
 * @example
 *   const sched = samplingScheduler('dpmsolver++', trainingSchedulerConfig);
 */
import { schedulerFromConfig, registeredSchedulers } from '../samplers/index.ts';
import {
  CONSISTENCY_SCHEDULER_CLASSES,
  EDM_SCHEDULER_CLASSES,
  isVpSchedulerClass,
  samplerRangeFor,
  vpSchedulerConfig,
} from './formulation.ts';

/** Short names accepted for --scheduler, besides diffusers' class names. */
export const SCHEDULER_ALIASES: Record<string, [string, Record<string, unknown>]> = {
  ddpm: ['DDPMScheduler', {}],
  ddim: ['DDIMScheduler', {}],
  pndm: ['PNDMScheduler', { skip_prk_steps: true }],
  'dpmsolver++': ['DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver++', solver_order: 2 }],
  dpmsolver: ['DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver' }],
  'sde-dpmsolver++': ['DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++' }],
  unipc: ['UniPCMultistepScheduler', {}],
  deis: ['DEISMultistepScheduler', {}],
  euler: ['EulerDiscreteScheduler', {}],
  'euler-a': ['EulerAncestralDiscreteScheduler', {}],
  heun: ['HeunDiscreteScheduler', {}],
  kdpm2: ['KDPM2DiscreteScheduler', {}],
  lms: ['LMSDiscreteScheduler', {}],
  'edm-euler': ['EDMEulerScheduler', {}],
  'edm-dpmsolver++': ['EDMDPMSolverMultistepScheduler', {}],
  'edm-sde-dpmsolver++': ['EDMDPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++' }],
  'score-sde-ve': ['ScoreSdeVeScheduler', {}],
  lcm: ['LCMScheduler', {}],
  'cm-stochastic': ['CMStochasticIterativeScheduler', {}],
};

/**
 * The sampler a model folder runs with when none is named: the folder's own class when the model's formulation
 * comes with its own sampler (an EDM model: EDMDPMSolverMultistepScheduler / EDMEulerScheduler on its Karras grid,
 * as diffusers' pipelines use the folder's scheduler; a consistency model: its multistep consistency sampler,
 * CMStochasticIterativeScheduler), else `fallback`.
 * @example defaultSchedulerFor(folder.schedulerConfig, 'dpmsolver++')
 */
export function defaultSchedulerFor(trainingConfig: Record<string, unknown>, fallback = 'ddim'): string {
  const own = trainingConfig._class_name;
  const ownSampler = [...EDM_SCHEDULER_CLASSES, ...CONSISTENCY_SCHEDULER_CLASSES];
  return typeof own === 'string' && ownSampler.includes(own) ? own : fallback;
}

/** Build the sampling scheduler on the model's training schedule (diffusers' from_config swap). */
export function samplingScheduler(
  name: string | undefined,
  trainingConfig: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
) {
  const key = name ?? defaultSchedulerFor(trainingConfig);
  const alias = Object.hasOwn(SCHEDULER_ALIASES, key.toLowerCase()) ? SCHEDULER_ALIASES[key.toLowerCase()] : undefined;
  const [cls, extra] = alias ?? [key, {}];
  if ((!alias && !registeredSchedulers().includes(cls)) || /Inverse/.test(cls)) {
    const what = /Inverse/.test(cls)
      ? 'an inverse scheduler (it maps samples to noise, for inversion) cannot sample'
      : 'unknown';
    throw new Error(
      `--scheduler ${key}: ${what}; use one of ${Object.keys(SCHEDULER_ALIASES).join(', ')} or a diffusers class name (${registeredSchedulers()
        .filter((n) => !/Inverse/.test(n))
        .join(', ')})`,
    );
  }
  // EDM / score-SDE classes on a VP model: the noise range of its beta table; VP classes on an EDM or consistency
  // model: diffusers' default beta table (VP_TABLE_FOR_NON_VP_MODELS; both in pipelines/formulation.ts)
  const base = isVpSchedulerClass(cls) ? vpSchedulerConfig(trainingConfig) : trainingConfig;
  return schedulerWithOverrides(cls, base, {
    ...samplerRangeFor(cls, trainingConfig),
    ...extra,
    ...overrides,
  });
}

/**
 * diffusers' `XScheduler.from_config(config, **overrides)`: keys the source config took as
 * defaults (`_use_default_values`) get the target class's defaults, except explicit overrides.
 */
export function schedulerWithOverrides(
  cls: string,
  config: Record<string, unknown>,
  overrides: Record<string, unknown>,
) {
  const cfg: Record<string, unknown> = { ...config, ...overrides };
  delete cfg._class_name;
  if (Array.isArray(cfg._use_default_values)) {
    cfg._use_default_values = (cfg._use_default_values as string[]).filter((k) => !(k in overrides));
  }
  // The training schedule is DDPM's; samples are unbounded for non-image data.
  return schedulerFromConfig(cls, cfg);
}
