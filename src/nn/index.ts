/**
 * Neural-network layers with diffusers' parameter names and PyTorch's default initialisations.
 * @example import { Module, withParams, Linear, Conv2d, Attention, ResnetBlock2D } from './nn/index.ts';
 */
export * from './module.ts';
export * from './activations.ts';
export * from './linear.ts';
export * from './conv2d.ts';
export * from './group_norm.ts';
export * from './layer_norm.ts';
export * from './embedding.ts';
export * from './dropout.ts';
export * from './timesteps.ts';
export * from './timestep_embedding.ts';
export * from './attention.ts';
export * from './resnet_block.ts';
export * from './downsample.ts';
export * from './upsample.ts';
export * from './fir.ts';
export * from './fourier.ts';
