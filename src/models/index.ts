/**
 * Denoiser models: mlp-2d (MLPModel) and UNet2DModel (diffusers-compatible config and weights), and
 * the registry of named reference configs.
 * @example import { createModel, modelFromConfig, UNet2DModel, MLPModel } from './models/index.ts';
 */
export * from './config_utils.ts';
export * from './mlp.ts';
export * from './unet2d_blocks.ts';
export * from './unet2d.ts';
export * from './registry.ts';
export * from './noisy_classifier.ts';
export * from './unet2d_legacy.ts';
export * from './resources.ts';
