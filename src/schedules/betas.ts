/**
 * Beta schedules: the variances beta_t of the forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
 * (DDPM, Ho et al. 2020, eq. 2), and the derived alphas / alphasCumprod tables.
 *
 * Values are float32 exactly as diffusers stores them (torch.float32 tensors): see numerics.ts.
 *
 * @example
 *   const betas = betasFor({ num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 1e-4, beta_end: 0.02 });
 *   const { alphas, alphasCumprod } = alphasFromBetas(betas);
 */
import { cumprodF32, f32, torchLinspaceF32 } from './numerics.ts';

/** Names accepted for `beta_schedule` (diffusers' names; each scheduler class accepts a subset, as in diffusers). */
export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid', 'laplace', 'exp'] as const;
export type BetaScheduleName = (typeof BETA_SCHEDULES)[number];

/** Transforms accepted by {@link betasForAlphaBar}. */
export const ALPHA_TRANSFORM_TYPES = ['cosine', 'exp', 'laplace'] as const;
export type AlphaTransformType = (typeof ALPHA_TRANSFORM_TYPES)[number];

/** The subset of a scheduler config that determines the betas (diffusers' snake_case keys). */
export interface BetaConfig {
  num_train_timesteps: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  trained_betas?: ArrayLike<number> | null;
  rescale_betas_zero_snr?: boolean;
}

/**
 * Linear schedule of DDPM (Ho et al. 2020, sec. 4): beta_t = linspace(beta_start, beta_end, T), float32.
 * @example linearBetas(1e-4, 0.02, 1000)[999] // 0.02
 */
export function linearBetas(betaStart: number, betaEnd: number, numTrainTimesteps: number): Float32Array {
  return torchLinspaceF32(betaStart, betaEnd, numTrainTimesteps);
}

/**
 * "scaled_linear" (Latent Diffusion / Stable Diffusion): beta_t = linspace(sqrt(beta_start), sqrt(beta_end), T)^2.
 * @example scaledLinearBetas(0.00085, 0.012, 1000)
 */
export function scaledLinearBetas(betaStart: number, betaEnd: number, numTrainTimesteps: number): Float32Array {
  const r = torchLinspaceF32(Math.sqrt(betaStart), Math.sqrt(betaEnd), numTrainTimesteps);
  for (let i = 0; i < r.length; i++) r[i] = f32(r[i] * r[i]);
  return r;
}

/**
 * Discretise a continuous alpha-bar(t), t in [0, 1]: beta_i = min(1 - abar((i+1)/T) / abar(i/T), maxBeta)
 * (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17 and the clipping of sec. 3.2). Computed in float64,
 * stored as float32. 'cosine' is eq. 17 with s = 0.008 (diffusers' "squaredcos_cap_v2");
 * 'exp' is abar(t) = exp(-12 t); 'laplace' is the Laplace noise schedule of Hang et al. (2024).
 * @example betasForAlphaBar(1000)          // Glide / iDDPM cosine schedule
 */
export function betasForAlphaBar(
  numDiffusionTimesteps: number,
  maxBeta = 0.999,
  alphaTransformType: AlphaTransformType = 'cosine',
): Float32Array {
  let alphaBar: (t: number) => number;
  if (alphaTransformType === 'cosine') {
    // Improved DDPM eq. (17): f(t) = cos(((t/T + s) / (1 + s)) * pi/2)^2, s = 0.008
    alphaBar = (t) => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  } else if (alphaTransformType === 'exp') {
    alphaBar = (t) => Math.exp(t * -12.0);
  } else if (alphaTransformType === 'laplace') {
    alphaBar = (t) => {
      const d = 0.5 - t;
      const sign = d > 0 || Object.is(d, 0) ? 1 : -1; // math.copysign(1, d)
      const lmb = -0.5 * sign * Math.log(1 - 2 * Math.abs(d) + 1e-6);
      const snr = Math.exp(lmb);
      return Math.sqrt(snr / (1 + snr));
    };
  } else {
    throw new Error(
      `betasForAlphaBar: alpha_transform_type = ${JSON.stringify(alphaTransformType)} is not supported; allowed values: ${ALPHA_TRANSFORM_TYPES.map((s) => `'${s}'`).join(', ')}`,
    );
  }
  const betas = new Float32Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    betas[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return betas;
}

/**
 * GeoDiff sigmoid schedule (Xu et al. 2022): beta_t = sigmoid(linspace(-6, 6, T)) * (beta_end - beta_start) + beta_start,
 * in float32 like torch.
 * @example sigmoidBetas(1e-4, 0.02, 1000)
 */
export function sigmoidBetas(betaStart: number, betaEnd: number, numTrainTimesteps: number): Float32Array {
  const x = torchLinspaceF32(-6, 6, numTrainTimesteps);
  const scale = f32(betaEnd - betaStart),
    shift = f32(betaStart);
  const out = new Float32Array(numTrainTimesteps);
  for (let i = 0; i < x.length; i++) {
    const s = f32(1 / (1 + Math.exp(-x[i])));
    out[i] = f32(f32(s * scale) + shift);
  }
  return out;
}

/**
 * Rescale betas so that the terminal SNR is exactly zero (Lin et al. 2024, "Common Diffusion Noise
 * Schedules and Sample Steps are Flawed", Algorithm 1): shift sqrt(alphasCumprod) so its last value is 0,
 * scale so its first value is unchanged, convert back to betas. float32 like diffusers.
 * @example rescaleZeroTerminalSnr(scaledLinearBetas(0.00085, 0.012, 1000))  // alphasCumprod[999] == 0
 */
export function rescaleZeroTerminalSnr(betas: ArrayLike<number>): Float32Array {
  const n = betas.length;
  const alphas = new Float32Array(n);
  for (let i = 0; i < n; i++) alphas[i] = f32(1 - betas[i]);
  const abarSqrt = cumprodF32(alphas);
  for (let i = 0; i < n; i++) abarSqrt[i] = f32(Math.sqrt(abarSqrt[i]));
  const a0 = abarSqrt[0],
    aT = abarSqrt[n - 1];
  // Algorithm 1: shift so the last timestep is zero ...
  for (let i = 0; i < n; i++) abarSqrt[i] = f32(abarSqrt[i] - aT);
  // ... and scale so the first timestep is back to its old value
  const scale = f32(a0 / f32(a0 - aT));
  for (let i = 0; i < n; i++) abarSqrt[i] = f32(abarSqrt[i] * scale);
  const abar = new Float32Array(n);
  for (let i = 0; i < n; i++) abar[i] = f32(abarSqrt[i] * abarSqrt[i]);
  const out = new Float32Array(n);
  out[0] = f32(1 - abar[0]);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(abar[i] / abar[i - 1]));
  return out;
}

/** Error message for a bad `beta_schedule`. */
function badBetaSchedule(name: unknown, owner: string): Error {
  return new Error(
    `${owner}: beta_schedule = ${JSON.stringify(name)} is not supported; allowed values: ${BETA_SCHEDULES.map((s) => `'${s}'`).join(', ')} (or pass trained_betas)`,
  );
}

/**
 * The float32 betas a diffusers scheduler builds from its config: `trained_betas` if given, otherwise
 * the named `beta_schedule`, then optionally rescaled to zero terminal SNR.
 * @example betasFor({ num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 })
 */
export function betasFor(
  config: BetaConfig,
  owner = 'betasFor',
  allowed: readonly string[] = BETA_SCHEDULES,
): Float32Array {
  const T = config.num_train_timesteps;
  if (!Number.isInteger(T) || T < 1)
    throw new Error(`${owner}: num_train_timesteps = ${JSON.stringify(T)} must be a positive integer`);
  const beta_start = config.beta_start ?? 0.0001;
  const beta_end = config.beta_end ?? 0.02;
  let betas: Float32Array;
  if (config.trained_betas != null) {
    betas = Float32Array.from(config.trained_betas as ArrayLike<number>);
  } else {
    const name = config.beta_schedule ?? 'linear';
    if (!allowed.includes(name)) {
      if (!(BETA_SCHEDULES as readonly string[]).includes(name)) throw badBetaSchedule(name, owner);
      throw new Error(
        `${owner}: beta_schedule = ${JSON.stringify(name)} is not implemented for this scheduler; allowed values: ${allowed.map((s) => `'${s}'`).join(', ')}`,
      );
    }
    switch (name as BetaScheduleName) {
      case 'linear':
        betas = linearBetas(beta_start, beta_end, T);
        break;
      case 'scaled_linear':
        betas = scaledLinearBetas(beta_start, beta_end, T);
        break;
      case 'squaredcos_cap_v2':
        betas = betasForAlphaBar(T);
        break;
      case 'sigmoid':
        betas = sigmoidBetas(beta_start, beta_end, T);
        break;
      case 'laplace':
        betas = betasForAlphaBar(T, 0.999, 'laplace');
        break; // DDPMScheduler only
      case 'exp':
        betas = betasForAlphaBar(T, 0.999, 'exp');
        break; // HeunDiscreteScheduler only
      default:
        throw badBetaSchedule(name, owner);
    }
  }
  if (config.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  return betas;
}

/**
 * alphas = 1 - betas and alphasCumprod = prod_{s<=t} alphas_s (DDPM eq. 4's alpha-bar), float32 like torch.
 * @example const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
 */
export function alphasFromBetas(betas: ArrayLike<number>): { alphas: Float32Array; alphasCumprod: Float32Array } {
  const alphas = new Float32Array(betas.length);
  for (let i = 0; i < betas.length; i++) alphas[i] = f32(1 - betas[i]);
  return { alphas, alphasCumprod: cumprodF32(alphas) };
}
