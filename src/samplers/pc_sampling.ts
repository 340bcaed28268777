/**
 * Predictor-corrector sampling of the reverse-time SDE (Song et al. 2021, sec. 4.2, Algorithms 1-5):
 *
 *   reverse SDE:  dx = [f(x, t) - g(t)^2 grad log p_t(x)] dt + g(t) dw_bar,   t from 1 down to eps
 *   predictors:   'euler-maruyama'     x_mean = x - [f - g^2 s] |dt|,  x = x_mean + g sqrt(|dt|) z
 *                 'reverse-diffusion'  x_mean = x - f_d + G^2 s,       x = x_mean + G z      (the SDE's own discretisation)
 *                 'none'               (corrector-only: annealed Langevin dynamics)
 *   corrector:    Langevin with the signal-to-noise step rule (Algorithm 4/5):
 *                 eps = 2 a (snr ||z|| / ||s||)^2,  x = x + eps s + sqrt(2 eps) z
 *                 (a = 1 for VE, 1 - beta(t) / 1000 for VP as in Song et al.'s code; norms per batch row, averaged)
 *
 * The score comes from any denoiser D(x; sigma) of the VE frame (k-diffusion's convention, models trained with
 * eps-, v- or EDM objectives all become one, see src/diffusion/edm.ts) through
 * grad log p_t(x) = (alpha D(x / alpha; sigma(t)) - x) / std(t)^2. The model may be asynchronous.
 * The last predictor step returns its noise-free mean (Song et al.'s `denoise = True`).
 *
 * @example
 *   const sde = new VeSde({ sigmaMin: 0.01, sigmaMax: 50 });
 *   const x = await samplePc(gmm.denoiser(), sde, new Philox(0).normal([1000, 2]).mulScalar(sde.priorStd),
 *                            { steps: 500, correctorSteps: 1, snr: 0.16, generator: new Philox(1) });
 */
import type { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
import { scoreFromDenoiserAt, type Sde } from '../diffusion/sde.ts';

/** A denoiser D(x, sigma) ~ E[x0 | x = x0 + sigma n], synchronous or asynchronous. */
export type MaybeAsyncDenoiser = (x: NDArray, sigma: number) => NDArray | Promise<NDArray>;

export type PcPredictor = 'euler-maruyama' | 'reverse-diffusion' | 'none';

export interface PcOptions {
  /** Predictor steps N (model calls: N (1 + correctorSteps)). */
  steps: number;
  /** Langevin corrector steps before each predictor step (default 1; 0 = predictor only). */
  correctorSteps?: number;
  /** Signal-to-noise ratio of the corrector (default 0.16, Song et al.'s CIFAR-10 VE setting). */
  snr?: number;
  predictor?: PcPredictor;
  /** Last time of the grid (default 1e-5 for VE, 1e-3 for VP, Song et al.). */
  eps?: number;
  generator: RandomGenerator;
  /** Called after each predictor step. */
  callback?: (info: { i: number; t: number; x: NDArray; xMean: NDArray }) => void;
}

const PREDICTORS: readonly PcPredictor[] = ['euler-maruyama', 'reverse-diffusion', 'none'];

/** Mean over batch rows of the per-row L2 norm. */
function meanRowNorm(x: NDArray): number {
  const B = x.shape[0],
    per = x.size / B;
  let acc = 0;
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let i = b * per; i < (b + 1) * per; i++) s += x.data[i] * x.data[i];
    acc += Math.sqrt(s);
  }
  return acc / B;
}

/**
 * Predictor-corrector sampling from x = xT (a draw of the prior N(0, priorStd^2 I)) to t = eps. See the file comment.
 * @example const x0 = await samplePc(denoiser, new VpSde(), noise, { steps: 1000, generator });
 */
export async function samplePc(model: MaybeAsyncDenoiser, sde: Sde, xT: NDArray, o: PcOptions): Promise<NDArray> {
  const fn = 'samplePc';
  const N = o.steps;
  if (!(Number.isInteger(N) && N >= 1)) throw new Error(`${fn}: steps = ${N} must be a positive integer`);
  const nc = o.correctorSteps ?? 1;
  if (!(Number.isInteger(nc) && nc >= 0)) throw new Error(`${fn}: correctorSteps = ${nc} must be an integer >= 0`);
  const snr = o.snr ?? 0.16;
  if (!(snr > 0 && Number.isFinite(snr))) throw new Error(`${fn}: snr = ${snr} must be a finite number > 0`);
  const predictor = o.predictor ?? 'euler-maruyama';
  if (!PREDICTORS.includes(predictor))
    throw new Error(
      `${fn}: predictor = ${JSON.stringify(predictor)} is not supported; allowed values: ${PREDICTORS.map((p) => `'${p}'`).join(', ')}`,
    );
  const eps = o.eps ?? (sde.kind === 've' ? 1e-5 : 1e-3);
  if (!(eps > 0 && eps < 1)) throw new Error(`${fn}: eps = ${eps} must be in (0, 1)`);
  if (!o.generator) throw new Error(`${fn}: opts.generator is required (the reverse SDE and the corrector draw noise)`);
  const g = o.generator;

  const score = async (x: NDArray, t: number): Promise<NDArray> => {
    const { alpha } = sde.marginal(t);
    const xVe = alpha === 1 ? x : x.map((v) => v / alpha);
    const D = await model(xVe, sde.sigma(t));
    return scoreFromDenoiserAt(D, x, t, sde);
  };

  let x = xT,
    xMean = xT;
  for (let i = 0; i < N; i++) {
    const t = 1 - ((1 - eps) * i) / N,
      tNext = 1 - ((1 - eps) * (i + 1)) / N;
    // corrector: Langevin MCMC at the current noise level
    for (let k = 0; k < nc; k++) {
      const s = await score(x, t);
      const z = g.normal(x.shape);
      const a = sde.kind === 'vp' ? 1 - (sde as unknown as { beta(t: number): number }).beta(t) / 1000 : 1;
      const r = (snr * meanRowNorm(z)) / meanRowNorm(s);
      const stepSize = 2 * a * r * r;
      const k2 = Math.sqrt(2 * stepSize);
      xMean = x.map((v, j) => v + stepSize * s.data[j]);
      x = xMean.map((v, j) => v + k2 * z.data[j]);
    }
    // predictor: one step of the reverse SDE from t to tNext
    if (predictor !== 'none') {
      const s = await score(x, t);
      const z = g.normal(x.shape);
      if (predictor === 'euler-maruyama') {
        const dt = t - tNext;
        const f = sde.drift(x, t),
          gt = sde.diffusion(t),
          g2 = gt * gt,
          sq = gt * Math.sqrt(dt);
        xMean = x.map((v, j) => v - (f.data[j] - g2 * s.data[j]) * dt);
        x = xMean.map((v, j) => v + sq * z.data[j]);
      } else {
        const { f, G } = sde.discretize(x, t, tNext);
        const G2 = G * G;
        xMean = x.map((v, j) => v - f.data[j] + G2 * s.data[j]);
        x = xMean.map((v, j) => v + G * z.data[j]);
      }
    }
    o.callback?.({ i, t: tNext, x, xMean });
  }
  return xMean;
}
