/**
 * EDM churn (Karras et al. 2022, Algorithm 2 lines 4-6), one rule for the scheduler classes
 * (EulerDiscreteScheduler: float32 scalars like diffusers, `round = f32`) and the functional samplers
 * (sampleEuler / sampleHeun / sampleDpm2: float64 like k-diffusion, no rounding):
 *   gamma     = min(S_churn / N, sqrt(2) - 1)   if S_tmin <= sigma <= S_tmax, else 0
 *   sigma_hat = sigma (1 + gamma)
 *   x_hat     = x + sqrt(sigma_hat^2 - sigma^2) S_noise z,   z ~ N(0, I)   (only when gamma > 0)
 * The array update x_hat stays with each caller: diffusers and k-diffusion multiply S_noise in a different
 * order (z S_noise first vs. the scalar std first), so one loop could not match both oracles bit for bit.
 *
 * @example
 *   const { gamma, sigmaHat, noiseStd } = churnAt(sigma, sigmas.length - 1, { sChurn: 40, sTmin: 0.05, sTmax: 50 });
 */

/** The churn parameters of EDM Algorithm 2 (S_churn, S_tmin, S_tmax, S_noise). */
export interface ChurnParams {
  /** Total churn S_churn (0 = deterministic ODE sampler). */
  sChurn?: number;
  /** Churn only for sigma in [sTmin, sTmax]. */
  sTmin?: number;
  sTmax?: number;
  /** Noise inflation S_noise. */
  sNoise?: number;
}

/** gamma, sigma_hat and the std sqrt(sigma_hat^2 - sigma^2) of the added noise (0 when gamma = 0; without S_noise). */
export interface Churn {
  gamma: number;
  sigmaHat: number;
  noiseStd: number;
}

const exact = (v: number): number => v;

/**
 * The churn of one step at noise level sigma out of nSteps; `round` rounds each scalar operation (Math.fround for
 * diffusers' float32 scalars, the default keeps float64 like k-diffusion).
 * @example churnAt(10, 18, { sChurn: 40, sTmin: 0.05, sTmax: 50 }).sigmaHat   // 10 (1 + sqrt(2) - 1)
 */
export function churnAt(sigma: number, nSteps: number, o: ChurnParams, round: (v: number) => number = exact): Churn {
  const sChurn = o.sChurn ?? 0,
    sTmin = o.sTmin ?? 0,
    sTmax = o.sTmax ?? Infinity;
  // gamma = min(S_churn / N, sqrt(2) - 1) inside [S_tmin, S_tmax]
  const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / nSteps, Math.SQRT2 - 1) : 0;
  // sigma_hat = sigma (1 + gamma)
  const sigmaHat = round(sigma * round(gamma + 1));
  // std of the added noise: sqrt(sigma_hat^2 - sigma^2)
  const noiseStd = gamma > 0 ? round(Math.sqrt(round(round(sigmaHat * sigmaHat) - round(sigma * sigma)))) : 0;
  return { gamma, sigmaHat, noiseStd };
}
