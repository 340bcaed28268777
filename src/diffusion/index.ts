/**
 * The diffusion process itself: forward noising, parameterisation conversions, x_0 thresholding and
 * DDPM reverse variances.
 * @example import { addNoise, predictionToX0, dynamicThreshold, ddpmVariance } from './diffusion/index.ts';
 */
export * from './broadcast.ts';
export * from './forward.ts';
export * from './parameterization.ts';
export * from './thresholding.ts';
export * from './variance.ts';
export * from './edm.ts';
export * from './sde.ts';
export * from './vlb_terms.ts';
export * from './consistency.ts';
