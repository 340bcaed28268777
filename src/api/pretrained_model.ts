/**
 * A denoiser network together with its weights, in the shape of diffusers' `ModelMixin`:
 * `UNet2DModel.fromPretrained(dir)`, `model.savePretrained(dir)`, `UNet2DModel.fromConfig(config)`,
 * and an asynchronous forward pass on host arrays.
 *
 * The architecture (`module`, a `Module` tree from src/models) only describes parameters; the values
 * live in `weights` (diffusers' state-dict names), so a folder written by diffusers loads here
 * unchanged and the other way round.
 *
 * @example
 *   import { UNet2DModel, NDArray } from 'diffuse';
 *   const unet = UNet2DModel.fromConfig({ sample_size: 8, in_channels: 1, out_channels: 1,
 *     block_out_channels: [8, 16], down_block_types: ['DownBlock2D', 'DownBlock2D'],
 *     up_block_types: ['UpBlock2D', 'UpBlock2D'], layers_per_block: 1, norm_num_groups: 4 });
 *   const eps = await unet.forward(NDArray.zeros([2, 1, 8, 8]), [10, 500]);   // [2, 1, 8, 8]
 *   await unet.savePretrained('my-unet');
 */
import { type NDArray, Philox } from '../engine/index.ts';
import { checkParams } from '../nn/module.ts';
import {
  modelConfig as namedModelConfig,
  modelFromConfig,
  MODEL_NAMES,
  type DiffusionModel,
} from '../models/registry.ts';
import { denoiserFor, isClassConditional, modelSampleShape } from '../pipelines/denoiser.ts';
import type { AsyncModelFn } from '../pipelines/generate.ts';
import type { SaveOptions } from './folder.ts';

/** Options of `fromConfig`. */
export interface FromConfigOptions {
  /** Seed of the random initialisation (PyTorch's default initialisers, drawn with Philox). Default 0. */
  seed?: number;
}

/** A model and its weights (the EMA weights, for a trained model). */
export class PretrainedModel {
  /** diffusers' `_class_name` this class loads (checked by `fromPretrained`), or null for any. */
  static readonly className: string | null = null;
  private denoiser: AsyncModelFn | null = null;
  private weightsSeen: Record<string, NDArray> | null = null;

  /** Wrap an architecture and weights (names and shapes are checked). */
  constructor(
    readonly module: DiffusionModel,
    public weights: Record<string, NDArray>,
  ) {
    checkParams(module, weights, 'weights');
  }

  /** The full model config (diffusers keys), as written to config.json. */
  get config(): Record<string, unknown> {
    return this.module.toConfig() as unknown as Record<string, unknown>;
  }

  /** Number of scalar parameters. */
  get numParameters(): number {
    return Object.values(this.weights).reduce((n, w) => n + w.size, 0);
  }

  /** Shape of one sample (no batch axis): [C, H, W] for a UNet, [D] for an MLP. */
  get sampleShape(): number[] {
    return modelSampleShape(this.module);
  }

  /** Has the model a class embedding (class-conditional)? */
  get classConditional(): boolean {
    return isClassConditional(this.module);
  }

  /**
   * A randomly initialised model from a config object (diffusers keys; `_class_name` may be left
   * out when called on UNet2DModel / MLPModel) or a named config ('mlp-2d', 'unet-s').
   */
  static fromConfig<T extends PretrainedModel>(
    this: PretrainedModelClass<T>,
    config: Record<string, unknown> | string,
    o: FromConfigOptions = {},
  ): T {
    const module = buildModule(this.className, config);
    return new this(module, module.initParams(new Philox(o.seed ?? 0)));
  }

  /**
   * Load a model folder: diffuse's output, a diffusers pipeline folder (its `unet/`) or a bare model
   * folder (config.json + weights).
   */
  static async fromPretrained<T extends PretrainedModel>(this: PretrainedModelClass<T>, dir: string): Promise<T> {
    const { loadPretrained } = await import('./folder.ts'); // Node.js only: loaded on use
    const loaded = loadPretrained(dir);
    const cls = loaded.model.toConfig()._class_name;
    if (this.className !== null && cls !== this.className) {
      throw new Error(
        `${dir}: holds a ${cls}, not a ${this.className} (load it with ${cls}.fromPretrained or PretrainedModel.fromPretrained)`,
      );
    }
    return new this(loaded.model, loaded.weights);
  }

  /**
   * Write the model as a diffusers model folder: config.json + diffusion_pytorch_model.safetensors
   * (float32, or float16 with `{ dtype: 'float16' }`).
   */
  async savePretrained(dir: string, o: SaveOptions = {}): Promise<void> {
    const { saveModel } = await import('./folder.ts');
    await saveModel(dir, this.config, this.weights, o);
  }

  /**
   * The network's prediction for noisy samples `x` [B, ...sampleShape] at timesteps `t` (one per
   * sample, or one for all), with class labels for a class-conditional model.
   */
  async forward(x: NDArray, t: number | ArrayLike<number>, classLabels?: ArrayLike<number>): Promise<NDArray> {
    const B = x.shape[0];
    const ts = typeof t === 'number' ? new Float32Array(B).fill(t) : Float32Array.from(t);
    if (ts.length !== B) throw new Error(`forward: ${ts.length} timesteps for a batch of ${B}`);
    return this.asDenoiser()(x, ts, classLabels ? Float32Array.from(classLabels) : undefined);
  }

  /** The model as the denoiser function the sampling loops take (compiled once per batch size). */
  asDenoiser(): AsyncModelFn {
    if (!this.denoiser || this.weightsSeen !== this.weights) {
      this.denoiser = denoiserFor(this.module, this.weights);
      this.weightsSeen = this.weights;
    }
    return this.denoiser;
  }
}

/** The constructor side of PretrainedModel (for the static methods' `this`). */
export interface PretrainedModelClass<T extends PretrainedModel> {
  new (module: DiffusionModel, weights: Record<string, NDArray>): T;
  readonly className: string | null;
}

/** diffusers' UNet2DModel (config keys, state-dict names and numerics). */
export class UNet2DModel extends PretrainedModel {
  static override readonly className = 'UNet2DModel';
}

/** A small MLP denoiser for low-dimensional data (vectors, 2-D points, table rows). */
export class MLPModel extends PretrainedModel {
  static override readonly className = 'MLPModel';
}

function buildModule(className: string | null, config: Record<string, unknown> | string): DiffusionModel {
  if (typeof config === 'string') {
    if (!MODEL_NAMES.includes(config))
      throw new Error(
        `fromConfig: model ${JSON.stringify(config)} is unknown (named configs: ${MODEL_NAMES.join(', ')})`,
      );
    const module = modelFromConfig(namedModelConfig(config));
    if (className !== null && module.toConfig()._class_name !== className)
      throw new Error(`fromConfig: '${config}' is a ${module.toConfig()._class_name}, not a ${className}`);
    return module;
  }
  const cls = config._class_name ?? className;
  if (className !== null && cls !== className)
    throw new Error(`fromConfig: _class_name = ${JSON.stringify(cls)} does not match ${className}`);
  return modelFromConfig({ ...config, _class_name: cls });
}
