/**
 * A trained model plus its scheduler, in the shape of diffusers' `DDPMPipeline`:
 * `DDPMPipeline.fromPretrained(dir)`, `pipeline.generate({ numInferenceSteps, generator })` (diffusers'
 * `pipe(...)`), `pipeline.withScheduler('dpmsolver++')` (the `from_config` swap) and
 * `pipeline.savePretrained(dir)`.
 *
 * Samples of non-image data are never clipped to [-1, 1] (DDIM's and DDPM's `clip_sample` is turned
 * off unless the model makes images), and come back in data units when the model was trained on
 * standardised data (a CSV through the CLI).
 *
 * A model trained with another formulation than its scheduler's (an EDM model, the default for images, on
 * 'ddim' or 'dpmsolver++') is converted on the fly (pipelines/formulation.ts, `adaptModelToScheduler`): the
 * pipeline keeps the scheduler config the model was trained with (`trainingConfig`) next to the one it samples with.
 *
 * @example
 *   import { DDPMPipeline, Philox } from 'diffuse';
 *   const pipe = await DDPMPipeline.fromPretrained('runs/moons');
 *   const points = await pipe.withScheduler('dpmsolver++').generate({ batchSize: 500, numInferenceSteps: 20, generator: new Philox(0) });
 */
import { type NDArray, Philox, type RandomGenerator } from '../engine/index.ts';
import { DDPMScheduler, type Scheduler } from '../samplers/index.ts';
import { generate } from '../pipelines/generate.ts';
import { samplingScheduler } from '../pipelines/scheduler_choice.ts';
import { adaptModelToScheduler, modelFormulation } from '../pipelines/formulation.ts';
import { toDataUnits } from '../pipelines/data_units.ts';
import type { RunInfo } from '../folders/run_info.ts';
import { PretrainedModel } from './pretrained_model.ts';
import type { SaveOptions } from './folder.ts';

/** Options of one generation (diffusers' pipeline call). */
export interface GenerateCallOptions {
  /** Number of samples (default 1). */
  batchSize?: number;
  /** Denoising steps (default 50). */
  numInferenceSteps?: number;
  /**
   * Custom descending timesteps instead of numInferenceSteps (diffusers' `timesteps=`; e.g. a consistency
   * model's grid indices [12, 8, 3, 0]); schedulers without custom timesteps refuse them.
   */
  timesteps?: readonly number[];
  /** A seeded generator (`new Philox(seed)` or `new TorchGenerator(seed)`), or a seed (default 0). */
  generator?: RandomGenerator | number;
  /** Class labels, one per sample or one for all (class-conditional models). */
  classLabels?: number | ArrayLike<number>;
  /** Classifier-free guidance weight (1 = off; needs a model trained with label dropout). */
  guidanceScale?: number;
  /** DDIM's eta (0 = deterministic). */
  eta?: number;
  /** Start from this noise [batchSize, ...sampleShape] instead of drawing it. */
  latents?: NDArray;
  /** Called after every step (e.g. a progress bar, or to keep the trajectory). */
  onStep?: (info: { index: number; steps: number; timestep: number; sample: NDArray; predOriginal?: NDArray }) => void;
}

/** A model and the scheduler that samples it. */
export class DDPMPipeline {
  constructor(
    readonly unet: PretrainedModel,
    readonly scheduler: Scheduler = new DDPMScheduler(),
    /** What diffuse recorded about the training data (null for folders from elsewhere). */
    readonly info: RunInfo | null = null,
    /**
     * The scheduler config the model was trained with (it says the formulation: VP eps / v / x0, EDM, consistency).
     * Default: none, the model is called as `scheduler` expects (the formulations agree).
     */
    readonly trainingConfig: Record<string, unknown> | null = null,
  ) {}

  /** Load a diffuse output folder, a diffusers pipeline folder or a bare model folder. */
  static async fromPretrained(dir: string): Promise<DDPMPipeline> {
    const { loadPretrained } = await import('./folder.ts'); // Node.js only: loaded on use
    const m = loadPretrained(dir);
    const model = new PretrainedModel(m.model, m.weights);
    return new DDPMPipeline(
      model,
      samplingScheduler(
        String(m.schedulerConfig._class_name ?? 'DDPMScheduler'),
        m.schedulerConfig,
        clipFor(model, m.info, m.schedulerConfig),
      ),
      m.info,
      m.schedulerConfig,
    );
  }

  /** Does the model produce images (then `clip_sample` of the scheduler config applies)? */
  get makesImages(): boolean {
    return this.info ? this.info.data.kind === 'images' : this.unet.sampleShape.length === 3;
  }

  /**
   * The same model with another scheduler: an alias ('ddim', 'dpmsolver++', 'unipc', 'euler', 'heun', ...),
   * a diffusers class name, or a Scheduler instance; built on this pipeline's noise schedule.
   */
  withScheduler(scheduler: string | Scheduler, overrides: Record<string, unknown> = {}): DDPMPipeline {
    // a VP model: this scheduler's config (earlier overrides carry over); another formulation: the training config
    const cfg =
      this.trainingConfig && modelFormulation(this.trainingConfig).kind !== 'vp'
        ? this.trainingConfig
        : this.scheduler.toConfig();
    const s =
      typeof scheduler === 'string'
        ? samplingScheduler(scheduler, cfg, { ...clipFor(this.unet, this.info, cfg), ...overrides })
        : scheduler;
    return new DDPMPipeline(this.unet, s, this.info, this.trainingConfig);
  }

  /** Draw samples: [batchSize, ...sampleShape], in data units. */
  async generate(o: GenerateCallOptions = {}): Promise<NDArray> {
    const n = o.batchSize ?? 1;
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`generate: batchSize must be a positive integer, got ${n}`);
    const steps = o.numInferenceSteps ?? 50;
    if (!(Number.isInteger(steps) && steps >= 1))
      throw new Error(`generate: numInferenceSteps must be a positive integer, got ${steps}`);
    const generator =
      typeof o.generator === 'number' || o.generator === undefined ? new Philox(o.generator ?? 0) : o.generator;
    const w = o.guidanceScale ?? 1;
    const nullClass = this.info?.nullClass ?? null;
    if (w !== 1 && nullClass === null)
      throw new Error(
        'generate: guidanceScale needs a model trained with label dropout (its null class is recorded in diffuse.json)',
      );
    let labels: Float32Array | undefined;
    if (this.unet.classConditional) {
      if (o.classLabels === undefined) throw new Error('generate: this model is class-conditional; pass classLabels');
      labels =
        typeof o.classLabels === 'number' ? new Float32Array(n).fill(o.classLabels) : Float32Array.from(o.classLabels);
      if (labels.length !== n) throw new Error(`generate: ${labels.length} class labels for batchSize ${n}`);
    } else if (o.classLabels !== undefined) {
      throw new Error('generate: classLabels given, but this model has no class embedding');
    }
    const model = this.trainingConfig
      ? adaptModelToScheduler(this.unet.asDenoiser(), this.trainingConfig, this.scheduler)
      : this.unet.asDenoiser();
    const x = await generate(model, this.scheduler, {
      shape: [n, ...this.unet.sampleShape],
      steps,
      timesteps: o.timesteps,
      generator,
      classLabels: labels,
      guidanceScale: w,
      nullClass: nullClass ?? undefined,
      eta: o.eta,
      initialNoise: o.latents,
      onStep: o.onStep ? (s) => o.onStep!({ ...s, steps: this.scheduler.timesteps.length }) : undefined,
    });
    return toDataUnits(x, this.info);
  }

  /**
   * Write the pipeline folder diffusers' `DDPMPipeline.from_pretrained` loads: model_index.json, unet/,
   * scheduler/ (this pipeline's scheduler), plus diffuse.json (what the data was).
   */
  async savePretrained(dir: string, o: SaveOptions = {}): Promise<void> {
    const { savePipeline } = await import('./folder.ts');
    await savePipeline(
      dir,
      {
        modelConfig: this.unet.config,
        weights: this.unet.weights,
        schedulerConfig: this.savedSchedulerConfig(),
        info: this.info,
      },
      o,
    );
  }

  /** The scheduler config to save: this scheduler's, unless it hides the formulation the model was trained with. */
  private savedSchedulerConfig(): Record<string, unknown> {
    const cfg = this.scheduler.toConfig();
    if (!this.trainingConfig) return cfg;
    const trained = modelFormulation(this.trainingConfig).kind;
    return trained !== 'vp' && modelFormulation(cfg).kind !== trained ? this.trainingConfig : cfg;
  }
}

/** `clip_sample` only for image models whose config asks for it (never for vectors or tables). */
function clipFor(model: PretrainedModel, info: RunInfo | null, cfg: Record<string, unknown>): Record<string, unknown> {
  const images = info ? info.data.kind === 'images' : model.sampleShape.length === 3;
  return { clip_sample: images && cfg.clip_sample !== false };
}
