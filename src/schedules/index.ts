/**
 * Schedules as data: beta/alpha/sigma tables and timestep grids, computed dtype-for-dtype like diffusers.
 * @example
 *   import { betasFor, alphasFromBetas, spacedTimesteps, karrasSigmas } from './schedules/index.ts';
 */
export * from './numerics.ts';
export * from './betas.ts';
export * from './timesteps.ts';
export * from './sigmas.ts';
