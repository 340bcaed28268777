/**
 * The scheduler and model function an editing pipeline (inpaint, RePaint, img2img, classifier guidance) runs
 * with, for a trained model of any formulation. The editing pipelines drive VP-family schedulers (DDPM, DDIM,
 * RePaint); `samplingScheduler` builds them on the model's beta table, or on diffusers' default table for an
 * EDM or consistency model (VP_TABLE_FOR_NON_VP_MODELS), and `adaptModelToScheduler` turns the network into what
 * the scheduler calls (the network unchanged for a VP model of that table and prediction type). `epsilon: true`
 * asks for an eps-prediction view of any model (classifier guidance adds the classifier gradient to eps).
 * `ddimInvert` / `ddimDecode` (invert.ts) adapt the model the same way. No file system here.
 *
 * @example
 *   const { scheduler, model } = editingSampler(denoiserFor(m.model, m.weights), m.schedulerConfig, 'ddim');
 *   const x = await img2img(model, scheduler, { image, strength: 0.6, steps: 50, generator: new Philox(0) });
 */
import type { Scheduler } from '../samplers/scheduler.ts';
import { adaptModelToScheduler } from './formulation.ts';
import { samplingScheduler } from './scheduler_choice.ts';
import type { AsyncModelFn } from './generate.ts';

/** Options of `editingSampler`. */
export interface EditingSamplerOptions {
  /** Scheduler config keys to override (clip_sample, ...). */
  overrides?: Record<string, unknown>;
  /** Build the scheduler with prediction_type 'epsilon' and give the model as an eps predictor (classifier guidance). */
  epsilon?: boolean;
}

/**
 * A scheduler `name` (alias or diffusers class, e.g. 'ddim', 'ddpm', 'RePaintScheduler') for a model of
 * `trainingConfig`, and the model `denoiser` as that scheduler calls it.
 * @example const { scheduler, model } = editingSampler(fn, edmFolderConfig, 'ddpm', { overrides: { clip_sample: true } });
 */
export function editingSampler(
  denoiser: AsyncModelFn,
  trainingConfig: Record<string, unknown>,
  name: string,
  o: EditingSamplerOptions = {},
): { scheduler: Scheduler; model: AsyncModelFn } {
  const scheduler = samplingScheduler(name, trainingConfig, {
    ...(o.epsilon ? { prediction_type: 'epsilon' } : {}),
    ...o.overrides,
  });
  return { scheduler, model: adaptModelToScheduler(denoiser, trainingConfig, scheduler) };
}
