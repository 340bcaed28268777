/**
 * The consistency-model parameterisation (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models",
 * Appendix C): a consistency function f(x, sigma) that maps any point of a probability-flow ODE trajectory to
 * its end at sigma_min, built from a raw network F as EDM's denoiser is, but with coefficients that make
 * f(x, sigma_min) = x exactly (the boundary condition):
 *
 *   f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x; c_noise(sigma))
 *   c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2)
 *   c_out  = (sigma - sigma_min) sigma_data / sqrt(sigma^2 + sigma_data^2)
 *   c_in   = 1 / sqrt(sigma^2 + sigma_data^2),   c_noise = ln(sigma) / 4      (EDM's, so an EDM network fits)
 *
 * diffusers' CMStochasticIterativeScheduler uses the same c_skip / c_out (`get_scalings_for_boundary_condition`)
 * and c_in (`scale_model_input`); its model timestep is 250 ln(sigma) = 1000 c_noise.
 *
 * @example
 *   const p = consistencyPreconditioning(0.002, 0.5, 0.002);   // { cSkip: 1, cOut: 0, ... }: f(x, sigma_min) = x
 */
import type { NDArray } from '../engine/ndarray.ts';
import type { EdmPreconditioning } from './edm.ts';

/**
 * c_skip, c_out, c_in, c_noise of the consistency parameterisation at noise level sigma >= sigma_min (float64).
 * @example consistencyPreconditioning(1, 0.5, 0.002).cSkip  // 0.25 / (0.998^2 + 0.25)
 */
export function consistencyPreconditioning(sigma: number, sigmaData: number, sigmaMin: number): EdmPreconditioning {
  if (!(sigmaMin > 0 && Number.isFinite(sigmaMin)))
    throw new Error(`consistencyPreconditioning: sigma_min = ${sigmaMin} must be a finite number > 0`);
  if (!(sigma >= sigmaMin && Number.isFinite(sigma)))
    throw new Error(`consistencyPreconditioning: sigma = ${sigma} must be a finite number >= sigma_min = ${sigmaMin}`);
  if (!(sigmaData > 0)) throw new Error(`consistencyPreconditioning: sigma_data = ${sigmaData} must be > 0`);
  const sd2 = sigmaData * sigmaData;
  const d = sigma - sigmaMin;
  return {
    cSkip: sd2 / (d * d + sd2),
    cOut: (d * sigmaData) / Math.sqrt(sigma * sigma + sd2),
    cIn: 1 / Math.sqrt(sigma * sigma + sd2),
    cNoise: 0.25 * Math.log(sigma),
  };
}

/**
 * f = c_skip x + c_out F: the consistency function's value from the raw network output F.
 * @example const x0 = consistencyOutput(x, F, 80, 0.5, 0.002);
 */
export function consistencyOutput(x: NDArray, F: NDArray, sigma: number, sigmaData: number, sigmaMin: number): NDArray {
  const { cSkip, cOut } = consistencyPreconditioning(sigma, sigmaData, sigmaMin);
  return x.map((v, i) => cSkip * v + cOut * F.data[i]);
}
