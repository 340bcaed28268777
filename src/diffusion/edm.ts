/**
 * The EDM formulation (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
 * Models"): a denoiser D(x; sigma) ~ E[x0 | x = x0 + sigma n] built from a raw network F by the
 * preconditioning of Table 1 / eq. (7),
 *
 *   D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma))
 *   c_skip = sigma_data^2 / (sigma^2 + sigma_data^2)      c_out = sigma sigma_data / sqrt(sigma^2 + sigma_data^2)
 *   c_in   = 1 / sqrt(sigma^2 + sigma_data^2)              c_noise = ln(sigma) / 4
 *
 * trained with ln(sigma) ~ N(P_mean, P_std^2) and the loss weight lambda(sigma) = 1 / c_out^2 (eq. 8), so
 * the regression target of F is (x0 - c_skip x) / c_out with weight 1. diffusers' EDM schedulers call this
 * F output 'epsilon' (and 'v_prediction' for c_out with the opposite sign); we keep their names.
 *
 * Also here: conversions between the denoiser D and the outputs of variance-preserving models
 * (epsilon / v / x0 in x_vp = x / sqrt(1 + sigma^2)), and the score identity
 * grad log p_sigma(x) = (D(x; sigma) - x) / sigma^2 (EDM eq. 3), so any trained model can drive any
 * sampler.
 *
 * @example
 *   const p = edmPreconditioning(1.5);                 // sigma_data 0.5: { cSkip: 0.1, cOut: 0.474..., ... }
 *   const D = edmDenoised(x, F, 1.5);                  // c_skip x + c_out F
 *   const s = scoreFromDenoised(D, x, 1.5);            // (D - x) / sigma^2
 */
import type { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';

/** EDM's published hyper-parameters (Karras et al. 2022, Table 1 and sec. 5). */
export const EDM_DEFAULTS: Readonly<
  Record<
    'sigmaMin' | 'sigmaMax' | 'sigmaData' | 'rho' | 'pMean' | 'pStd' | 'sChurn' | 'sTmin' | 'sTmax' | 'sNoise',
    number
  >
> = Object.freeze({
  sigmaMin: 0.002,
  sigmaMax: 80,
  sigmaData: 0.5,
  rho: 7,
  pMean: -1.2,
  pStd: 1.2,
  /** Stochastic sampler settings of Table 5 (ImageNet-64): S_churn, S_tmin, S_tmax, S_noise. */
  sChurn: 40,
  sTmin: 0.05,
  sTmax: 50,
  sNoise: 1.003,
});

/** 'epsilon': D = c_skip x + c_out F (EDM); 'v_prediction': the same with -c_out (diffusers' names). */
export type EdmPredictionType = 'epsilon' | 'v_prediction';

/** The four preconditioning coefficients at one noise level. */
export interface EdmPreconditioning {
  cSkip: number;
  cOut: number;
  cIn: number;
  cNoise: number;
}

function checkSigma(sigma: number, what: string): void {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new Error(`${what}: sigma = ${sigma} must be a finite number > 0`);
}

/**
 * c_skip, c_out, c_in, c_noise of EDM Table 1 at noise level sigma (float64).
 * @example edmPreconditioning(0.5)  // { cSkip: 0.5, cOut: 0.3535..., cIn: 1.4142..., cNoise: -0.1733... }
 */
export function edmPreconditioning(
  sigma: number,
  sigmaData = EDM_DEFAULTS.sigmaData,
  predictionType: EdmPredictionType = 'epsilon',
): EdmPreconditioning {
  checkSigma(sigma, 'edmPreconditioning');
  if (!(sigmaData > 0)) throw new Error(`edmPreconditioning: sigma_data = ${sigmaData} must be > 0`);
  if (predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
    throw new Error(
      `edmPreconditioning: prediction_type = ${JSON.stringify(predictionType)} is not supported; allowed values: 'epsilon', 'v_prediction'`,
    );
  }
  const s2 = sigma * sigma + sigmaData * sigmaData;
  const cOut = (sigma * sigmaData) / Math.sqrt(s2);
  return {
    cSkip: (sigmaData * sigmaData) / s2,
    cOut: predictionType === 'epsilon' ? cOut : -cOut,
    cIn: 1 / Math.sqrt(s2),
    cNoise: 0.25 * Math.log(sigma),
  };
}

/**
 * D = c_skip x + c_out F: the denoised sample from the raw network output F (EDM eq. 7).
 * @example const D = edmDenoised(x, F, sigma, 0.5);
 */
export function edmDenoised(
  x: NDArray,
  F: NDArray,
  sigma: number,
  sigmaData = EDM_DEFAULTS.sigmaData,
  predictionType: EdmPredictionType = 'epsilon',
): NDArray {
  const { cSkip, cOut } = edmPreconditioning(sigma, sigmaData, predictionType);
  return x.map((v, i) => cSkip * v + cOut * F.data[i]);
}

/**
 * The raw network output F that yields denoiser output D: (D - c_skip x) / c_out (inverse of edmDenoised;
 * the EDM training target with D = x0, eq. 8).
 * @example const target = edmOutputFromDenoised(x0, x0.add(noise.mulScalar(sigma)), sigma);
 */
export function edmOutputFromDenoised(
  D: NDArray,
  x: NDArray,
  sigma: number,
  sigmaData = EDM_DEFAULTS.sigmaData,
  predictionType: EdmPredictionType = 'epsilon',
): NDArray {
  const { cSkip, cOut } = edmPreconditioning(sigma, sigmaData, predictionType);
  return D.map((d, i) => (d - cSkip * x.data[i]) / cOut);
}

/**
 * EDM's loss weight lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 = 1 / c_out^2 (eq. 8).
 * Multiplied by c_out^2 from rewriting the loss on F, the weight on ||F - target||^2 is 1.
 * @example edmLossWeight(0.5)  // 8
 */
export function edmLossWeight(sigma: number, sigmaData = EDM_DEFAULTS.sigmaData): number {
  checkSigma(sigma, 'edmLossWeight');
  return (sigma * sigma + sigmaData * sigmaData) / (sigma * sigmaData) ** 2;
}

/**
 * Training noise levels: ln(sigma) ~ N(P_mean, P_std^2) (EDM sec. 5, "log-normal"), one per batch row.
 * @example const sigmas = sampleLogNormalSigmas(new Philox(0), 64);   // EDM's P_mean -1.2, P_std 1.2
 */
export function sampleLogNormalSigmas(
  rng: RandomGenerator,
  n: number,
  pMean = EDM_DEFAULTS.pMean,
  pStd = EDM_DEFAULTS.pStd,
): Float64Array {
  if (!(pStd >= 0) || !Number.isFinite(pMean))
    throw new Error(
      `sampleLogNormalSigmas: P_mean = ${pMean}, P_std = ${pStd}; expected finite values with P_std >= 0`,
    );
  const z = rng.normal([n]).data;
  return Float64Array.from(z, (v) => Math.exp(pMean + pStd * v));
}

/** What the model of a variance-preserving (DDPM-style) formulation predicts. */
export type VpPredictionType = 'epsilon' | 'v_prediction' | 'sample';

/**
 * The denoiser output D(x; sigma) of a variance-preserving model, from its output at
 * x_vp = x / sqrt(1 + sigma^2) (alpha = 1 / sqrt(1 + sigma^2), sigma_vp = sigma alpha; EDM Table 1, VP column):
 * epsilon: x - sigma eps; v_prediction: alpha x_vp - sigma_vp v = x / (1 + sigma^2) - sigma v / sqrt(1 + sigma^2);
 * sample: the output itself.
 * @example const D = vpOutputToDenoised(eps, x, 2.0, 'epsilon');
 */
export function vpOutputToDenoised(
  output: NDArray,
  x: NDArray,
  sigma: number,
  predictionType: VpPredictionType | string,
): NDArray {
  if (predictionType === 'epsilon') return x.map((v, i) => v - sigma * output.data[i]);
  if (predictionType === 'v_prediction') {
    const a = 1 / (1 + sigma * sigma),
      b = sigma / Math.sqrt(1 + sigma * sigma);
    return x.map((v, i) => a * v - b * output.data[i]);
  }
  if (predictionType === 'sample') return output;
  throw new Error(
    `vpOutputToDenoised: prediction_type = ${JSON.stringify(predictionType)} is not supported; allowed values: 'epsilon', 'v_prediction', 'sample'`,
  );
}

/**
 * Inverse of vpOutputToDenoised: what a variance-preserving model of the given prediction type would output
 * for denoiser output D at (x, sigma): eps = (x - D) / sigma; v = (eps - sigma D) / sqrt(1 + sigma^2); sample = D.
 * @example const eps = denoisedToVpOutput(D, x, 2.0, 'epsilon');
 */
export function denoisedToVpOutput(
  D: NDArray,
  x: NDArray,
  sigma: number,
  predictionType: VpPredictionType | string,
): NDArray {
  if (predictionType === 'epsilon') return x.map((v, i) => (v - D.data[i]) / sigma);
  if (predictionType === 'v_prediction') {
    const k = 1 / Math.sqrt(1 + sigma * sigma);
    return x.map((v, i) => k * ((v - D.data[i]) / sigma - sigma * D.data[i]));
  }
  if (predictionType === 'sample') return D;
  throw new Error(
    `denoisedToVpOutput: prediction_type = ${JSON.stringify(predictionType)} is not supported; allowed values: 'epsilon', 'v_prediction', 'sample'`,
  );
}

/**
 * The score grad_x log p(x; sigma) = (D(x; sigma) - x) / sigma^2 (Tweedie / EDM eq. 3), for any denoiser.
 * @example const score = scoreFromDenoised(D, x, sigma);
 */
export function scoreFromDenoised(D: NDArray, x: NDArray, sigma: number): NDArray {
  checkSigma(sigma, 'scoreFromDenoised');
  const k = 1 / (sigma * sigma);
  return x.map((v, i) => (D.data[i] - v) * k);
}

/**
 * Inverse of scoreFromDenoised: D = x + sigma^2 score.
 * @example const D = denoisedFromScore(score, x, sigma);
 */
export function denoisedFromScore(score: NDArray, x: NDArray, sigma: number): NDArray {
  const s2 = sigma * sigma;
  return x.map((v, i) => v + s2 * score.data[i]);
}
