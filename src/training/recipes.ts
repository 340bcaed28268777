/**
 * Named training recipes: one source for the hyper-parameters that the CLI defaults (`diffuse train
 * --data <toy set>`), `diffuse demo` and the browser playground's live 2-D training all use, and the image
 * recipe (`IMAGE_RECIPE`) that `diffuse train` on images and the library's `train()` on images default to.
 *
 * `TOY2D_RECIPE` is mlp-2d on the 2-D toy sets (moons, swissroll, 8gaussians, checkerboard, circles), the
 * winner of the sweep in docs/toy/recipe.md (bench/toy/sweep.ts): every value here is a measured choice.
 * This file has no runtime imports, so the browser bundle can use it as well as Node.
 *
 * @example
 *   import { TOY2D_RECIPE, recipeTrainConfig } from 'diffuse';
 *   const config = recipeTrainConfig(TOY2D_RECIPE, { seed: 1 });   // a full TrainConfig for train()
 *   config.lr === TOY2D_RECIPE.lr;                                   // true
 */
import type { TrainConfig } from './trainer.ts';
import type { TrainPredictionType } from './objectives.ts';

/** Everything that defines a toy-set training run and how it is sampled. */
export interface ToyRecipe {
  /** Overrides of the `mlp-2d` model config (snake_case keys of MLPConfig). */
  model: Record<string, unknown>;
  steps: number;
  batchSize: number;
  /** Peak AdamW learning rate (linear warm-up, then cosine decay to `minLr`). */
  lr: number;
  warmupSteps: number;
  minLr: number;
  weightDecay: number;
  maxGradNorm: number | null;
  /** EMA of the weights: max decay and the warm-up power of diffusers' EMAModel; null = none. */
  ema: { maxDecay: number; power: number } | null;
  predictionType: TrainPredictionType;
  /** min-SNR-gamma loss weighting (undefined = off). */
  snrGamma?: number;
  /** diffusers beta_schedule: 'linear' or 'squaredcos_cap_v2' (cosine). */
  betaSchedule: string;
  trainTimesteps: number;
  /** The sampler the demo and the playground use on this recipe's models. */
  sampler: { scheduler: string; steps: number };
}

/**
 * The toy-set recipe (docs/toy/recipe.md has the sweep that picked each value; MMD ratio 1.0 = as close to the
 * data as fresh data). The levers that mattered: sinusoidal input features of x (`input_embedding_dim` 64:
 * checkerboard 3.3 -> 1.1), a stochastic sampler (SDE-DPM-Solver++ 50 steps: 8gaussians 2.1 -> 1.0 on the same
 * model; the deterministic ODE samplers pull the modes too tight), and lr 1e-2 (1e-3: 1.4, 2e-3: 1.06, 5e-3: 0.87,
 * 1e-2: 0.82 on checkerboard; circles 1.42 -> 1.28 from 5e-3). Neutral or worse at 3,000 steps: EMA decay, warm-up, batch 512, v or x0
 * prediction, min-SNR weighting, cosine betas (its ODE sampling breaks), width and depth, time-embedding size.
 */
export const TOY2D_RECIPE: Readonly<ToyRecipe> = Object.freeze({
  model: Object.freeze({ input_embedding_dim: 64 }),
  steps: 3000,
  batchSize: 256,
  lr: 1e-2,
  warmupSteps: 100,
  minLr: 0,
  weightDecay: 0,
  maxGradNorm: 1,
  ema: Object.freeze({ maxDecay: 0.999, power: 0.75 }),
  predictionType: 'epsilon',
  snrGamma: undefined,
  betaSchedule: 'linear',
  trainTimesteps: 1000,
  sampler: Object.freeze({ scheduler: 'sde-dpmsolver++', steps: 50 }),
});

/** The recipe with some keys replaced (nested `model`, `ema` and `sampler` replaced as a whole). */
export function withRecipeOverrides(
  recipe: Readonly<ToyRecipe>,
  overrides: Partial<ToyRecipe> | Record<string, unknown>,
): ToyRecipe {
  const known = Object.keys(TOY2D_RECIPE).concat('snrGamma');
  for (const k of Object.keys(overrides)) {
    if (!known.includes(k)) throw new Error(`recipe: unknown key '${k}' (allowed: ${known.join(', ')})`);
  }
  return { ...recipe, ...(overrides as Partial<ToyRecipe>) };
}

/** A full TrainConfig (for `train()`) from a recipe; `extra` sets run-specific keys (seed, checkpoints). */
export function recipeTrainConfig(recipe: Readonly<ToyRecipe>, extra: Partial<TrainConfig> = {}): TrainConfig {
  return {
    steps: recipe.steps,
    batchSize: recipe.batchSize,
    lr: recipe.lr,
    warmupSteps: recipe.warmupSteps,
    minLr: recipe.minLr,
    weightDecay: recipe.weightDecay,
    beta1: 0.9,
    beta2: 0.999,
    maxGradNorm: recipe.maxGradNorm,
    gradAccumSteps: 1,
    emaDecay: recipe.ema ? recipe.ema.maxDecay : null,
    emaPower: recipe.ema ? recipe.ema.power : 0.75,
    objective: { predictionType: recipe.predictionType, snrGamma: recipe.snrGamma },
    noiseSchedule: {
      num_train_timesteps: recipe.trainTimesteps,
      beta_schedule: recipe.betaSchedule,
      beta_start: 0.0001,
      beta_end: 0.02,
      clip_sample: false,
    },
    labelDropout: 0,
    seed: 0,
    checkpointEvery: Math.max(1, Math.min(1000, recipe.steps)),
    keepLast: 2,
    onNonFinite: 'stop',
    ...extra,
  };
}

/** Everything that defines an image training run (unet-s on MNIST-like images) and how it is sampled. */
export interface ImageRecipe {
  /** The training objective: 'edm' (Karras et al. 2022 preconditioning) or 'eps' (DDPM-style). */
  objective: 'edm' | 'eps';
  /** EDM's sigma_data (the data's standard deviation; images in [-1, 1]: 0.5). */
  sigmaData: number;
  /**
   * The training noise levels, ln sigma ~ N(pMean, pStd^2), at sigmaData (EDM: -1.2, 1.2). For another
   * sigma_data every level scales with it (imageRecipeEdm).
   */
  pMean: number;
  pStd: number;
  batchSize: number;
  /** Peak AdamW learning rate (linear warm-up, then cosine decay to `minLr`). */
  lr: number;
  warmupSteps: number;
  minLr: number;
  weightDecay: number;
  maxGradNorm: number | null;
  /** EMA of the weights: max decay and the warm-up power of diffusers' EMAModel; null = none. */
  ema: { maxDecay: number; power: number } | null;
  /**
   * The sampler of the recipe's models: the class the model folder records (EdmObjective.schedulerConfig), which
   * `diffuse sample` runs with no --scheduler (20 steps) and `train()` returns its pipeline with. On the 5-minute
   * MNIST model (docs/mnist/README.md, run 6) it beats DDIM, which the recipe sweeps sampled with: FID-MNIST 78 at
   * 20 steps and 63 at 10 against DDIM's 106 at 50.
   */
  sampler: { scheduler: string; steps: number };
}

/**
 * The image recipe: unet-s on MNIST (docs/mnist/README.md, recipe sweep; bench/mnist/quality.ts, 330 training
 * steps each, 128 samples by DDIM 20 steps, FID-MNIST / share recognised > 90%): standard eps lr 1e-3 constant
 * 354 / 38%; eps lr 2e-3 cosine 297 / 48%; + min-SNR 5 248 / 45%; v-prediction lr 2e-3 cosine 220 / 52%;
 * EDM objective (sigma_data 0.5) lr 2e-3 cosine 192 / 51% (this recipe); EDM lr 4e-3 268 / 43%.
 * The training noise levels (docs/mnist/README.md, run 5: 440 steps, 256 samples by DDIM 50, seeds 0 / 1): EDM's
 * ln sigma ~ N(-1.2, 1.2^2) 155 / 52%, 171 / 52%; P_mean -0.6 130 / 58%, 147 / 59%; -0.3 120 / 59%; 0 107 / 62%,
 * 136 / 61%; 0.5 106 / 66% (this recipe: a short run learns the coarse, high-noise structure first). Neutral:
 * Adam beta2 0.99, warm-up 20 (worse), no EMA; batch 32 worse. Run 6: P_mean 1.0 111 / 64%, P_std 1.0 102 / 65%
 * (level), P_std 1.6 113 / 59%. Measured at ~440 steps only.
 * `diffuse train` on image data and the library's `train()` on images take every value the caller did not set
 * from here; choosing the DDPM-style objective (objective 'eps', a prediction type, min-SNR, a beta schedule)
 * trains it with the previous defaults (lr 1e-3), as before this recipe.
 * @example
 *   import { IMAGE_RECIPE } from 'diffuse';
 *   IMAGE_RECIPE.objective;   // 'edm' (sigma_data IMAGE_RECIPE.sigmaData = 0.5, lr 2e-3)
 */
export const IMAGE_RECIPE: Readonly<ImageRecipe> = Object.freeze({
  objective: 'edm',
  sigmaData: 0.5,
  pMean: 0.5,
  pStd: 1.2,
  batchSize: 64,
  lr: 2e-3,
  warmupSteps: 100,
  minLr: 0,
  weightDecay: 0,
  maxGradNorm: 1,
  ema: Object.freeze({ maxDecay: 0.999, power: 0.75 }),
  sampler: Object.freeze({ scheduler: 'EDMDPMSolverMultistepScheduler', steps: 20 }),
});

/**
 * The EDM objective settings of the image recipe for data of standard deviation `sigmaData` (default the
 * recipe's 0.5): the training noise levels scale with sigma_data, as EDM's defaults do (EdmObjective).
 * @example imageRecipeEdm().pMean === IMAGE_RECIPE.pMean   // true
 * @example imageRecipeEdm(1).pMean                          // IMAGE_RECIPE.pMean + ln 2
 */
export function imageRecipeEdm(sigmaData: number = IMAGE_RECIPE.sigmaData): {
  sigmaData: number;
  pMean: number;
  pStd: number;
} {
  const r = IMAGE_RECIPE;
  return { sigmaData, pMean: r.pMean + Math.log(sigmaData / r.sigmaData), pStd: r.pStd };
}
