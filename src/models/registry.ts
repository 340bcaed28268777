/**
 * Named model configs (the reference workloads of ARCHITECTURE.md section 4) and building a model
 * from any config object (dispatch on `_class_name`, as diffusers' config.json has it).
 *
 * - `mlp-2d`: MLPModel, 3 x 128 hidden, SiLU, 64-d sinusoidal time embedding, 2-D data.
 * - `unet-s`: UNet2DModel for 1x28x28: block_out_channels (32, 64, 64), layers_per_block 1,
 *   DownBlock2D, DownBlock2D, AttnDownBlock2D (self-attention at the 7x7 level, also in the mid block)
 *   / AttnUpBlock2D, UpBlock2D, UpBlock2D, GroupNorm(8), SiLU, time embedding 128 = 4 x 32, attention
 *   head dim 8 (8 heads of 8 at 64 channels). 1,112,801 parameters; with `num_class_embeds: 10`
 *   (+1,280) 1,114,081.
 *
 * @example
 *   const model = modelFromConfig(modelConfig('unet-s', { num_class_embeds: 11 }));
 *   const mlp = createModel('mlp-2d');
 */
import { MLPModel, validateMLPConfig, type MLPConfig } from './mlp.ts';
import { UNet2DModel, validateUNet2DConfig, type UNet2DConfig } from './unet2d.ts';
import { describe } from './config_utils.ts';
import { checkModelDepth } from './resources.ts';

export type ModelConfig = MLPConfig | UNet2DConfig;
export type DiffusionModel = MLPModel | UNet2DModel;

const NAMED: Record<string, Record<string, unknown>> = {
  'mlp-2d': {
    _class_name: 'MLPModel',
    in_channels: 2,
    out_channels: 2,
    hidden_dims: [128, 128, 128],
    time_embedding_dim: 64,
    flip_sin_to_cos: true,
    freq_shift: 0,
    act_fn: 'silu',
    num_class_embeds: null,
  },
  'unet-s': {
    _class_name: 'UNet2DModel',
    sample_size: 28,
    in_channels: 1,
    out_channels: 1,
    block_out_channels: [32, 64, 64],
    layers_per_block: 1,
    down_block_types: ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D'],
    up_block_types: ['AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
    norm_num_groups: 8,
    attention_head_dim: 8,
    act_fn: 'silu',
    time_embedding_type: 'positional',
    flip_sin_to_cos: true,
    freq_shift: 0,
    num_class_embeds: null,
  },
};

/** Names accepted by `modelConfig`. */
export const MODEL_NAMES = Object.keys(NAMED);

/**
 * The full, validated config of a named model, with `overrides` (config keys) applied.
 * @example modelConfig('mlp-2d', { in_channels: 3 })
 */
export function modelConfig(name: string, overrides: Record<string, unknown> = {}): ModelConfig {
  const base = Object.hasOwn(NAMED, name) ? NAMED[name] : undefined;
  if (!base)
    throw new Error(
      `model ${JSON.stringify(name)} is unknown (known models: ${MODEL_NAMES.join(', ')}; or pass a config.json)`,
    );
  const json = { ...base, ...overrides };
  return base._class_name === 'UNet2DModel'
    ? validateUNet2DConfig(json, `model '${name}'`)
    : validateMLPConfig(json, `model '${name}'`);
}

/**
 * Build a model from a config object: `_class_name` "UNet2DModel" or "MLPModel" (required).
 * @example modelFromConfig(JSON.parse(readFileSync('ckpt/config.json', 'utf8')))
 */
export function modelFromConfig(json: unknown, where = 'model config'): DiffusionModel {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`${where}: expected a JSON object, got ${describe(json)}`);
  const cls = (json as Record<string, unknown>)._class_name;
  // The depth is checked before anything is built (a million layers would crash V8).
  if (cls === 'UNet2DModel') return new UNet2DModel(checkModelDepth(validateUNet2DConfig(json, where), where));
  if (cls === 'MLPModel') return new MLPModel(checkModelDepth(validateMLPConfig(json, where), where));
  throw new Error(`${where}: _class_name = ${describe(cls)} is not supported (allowed: "UNet2DModel", "MLPModel")`);
}

/** A model from a registry name or a config object. @example createModel('unet-s') */
export function createModel(nameOrConfig: string | Record<string, unknown>): DiffusionModel {
  return typeof nameOrConfig === 'string'
    ? modelFromConfig(modelConfig(nameOrConfig), `model '${nameOrConfig}'`)
    : modelFromConfig(nameOrConfig);
}
