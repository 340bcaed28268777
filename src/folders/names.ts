/**
 * File and folder names of model folders, one place for all of them.
 *
 * diffusers' names (a pipeline folder and its component folders):
 *   model_index.json                            the pipeline: component name -> [library, class]
 *   unet/config.json                            a model's config (diffusers keys, `_class_name`)
 *   unet/diffusion_pytorch_model.safetensors    its weights (or sharded: *.safetensors.index.json + shards)
 *   scheduler/scheduler_config.json             the noise schedule / sampler config
 * diffuse's own, beside them:
 *   diffuse.json                                what the samples mean (data description, null class, step)
 *   checkpoint-<step>/                          everything needed to resume a training run
 *   .diffuse.lock, .diffuse-writers             the writer's lock and the tags of its temporaries
 *
 * @example path.join(dir, UNET_FOLDER, WEIGHTS_NAME) // 'runs/a/unet/diffusion_pytorch_model.safetensors'
 */

/** A model's weights (safetensors). */
export const WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';
/** The index of sharded weights (`weight_map`: tensor name -> shard file). */
export const WEIGHTS_INDEX_NAME = 'diffusion_pytorch_model.safetensors.index.json';
/** PyTorch pickle weights: recognised only to be refused. */
export const PICKLE_WEIGHTS_NAME = 'diffusion_pytorch_model.bin';
/** A model's config. */
export const CONFIG_NAME = 'config.json';
/** A scheduler's config. */
export const SCHEDULER_CONFIG_NAME = 'scheduler_config.json';
/** A diffusers pipeline's component list. */
export const MODEL_INDEX_NAME = 'model_index.json';
/** The denoiser's component folder in a pipeline folder. */
export const UNET_FOLDER = 'unet';
/** The scheduler's component folder in a pipeline folder. */
export const SCHEDULER_FOLDER = 'scheduler';
/** diffuse's run description beside the model. */
export const RUN_INFO_NAME = 'diffuse.json';
/** The trainer state of a checkpoint (its presence marks a complete checkpoint). */
export const TRAINER_STATE_NAME = 'trainer_state.json';
/** EMA weights of a checkpoint. */
export const EMA_WEIGHTS_NAME = 'ema.safetensors';
/** AdamW moments of a checkpoint. */
export const OPTIMIZER_NAME = 'optimizer.safetensors';
/** The exclusive writer lock of an output folder. */
export const LOCK_NAME = '.diffuse.lock';
/** The writer tags of the runs that wrote into a folder (their temporaries may be cleaned). */
export const WRITERS_NAME = '.diffuse-writers';

/** Name of the checkpoint folder of `step`. @example checkpointName(300) // 'checkpoint-300' */
export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}
