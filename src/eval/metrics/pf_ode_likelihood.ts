/**
 * Log-likelihood by the probability-flow ODE (Song et al. 2021, "Score-Based Generative Modeling through
 * SDEs", sec. 4.3 and appendix D.2): the deterministic flow that shares the diffusion's marginals maps
 * data to noise, and the instantaneous change of variables (Chen et al. 2018, "Neural ODEs", theorem 1)
 *     log p_0(x(0)) = log p_T(x(T)) + int_0^T div f(x(t), t) dt
 * gives the exact log-density of the model's flow.
 *
 * Frame and time: we integrate the variance-exploding form of the VP process, y = x_t / sqrt(abar_t) =
 * x_0 + sigma eps (Karras et al. 2022, EDM eq. 4 / table 1; DDIM eq. 14), where the flow is
 *     dy/dsigma = eps_theta(y / sqrt(1 + sigma^2), sigma),
 * in the variable u = log sigma (smooth over the five decades a DDPM schedule spans):
 *     dy/du = sigma eps_theta(x, sigma),      x = y / sqrt(1 + sigma^2)   (the model's VP-frame input)
 *     d/du [change of log-density] = sigma / sqrt(1 + sigma^2) tr(d eps_theta / d x)
 * from sigma_min (the smallest training noise level; y(sigma_min) = x0, the data point) to sigma_max. The
 * prior is the VP one, x_T ~ N(0, I), i.e. y(sigma_max) ~ N(0, (1 + sigma_max^2) I), so
 *     log p(x0) = log N(y_T; 0, (1 + sigma_max^2) I) + int div.
 * Solved with the adaptive Dormand–Prince RK45 of ./rk45.ts (tolerances as Song et al.: 1e-5), the
 * divergence exact (low-dimensional data) or by Hutchinson's estimator with Rademacher probes held fixed
 * along each trajectory (Song et al. appendix D.2; FFJORD sec. 3.1), see ./divergence.ts.
 *
 * For images in [-1, 1] with 256 levels, `bitsPerDim` applies uniform dequantisation (Theis et al. 2016):
 * x' = x + (u - 1/2) / 127.5, u ~ U[0, 1)^D, and bits/dim = -log p(x') / (D ln 2) + log2(127.5) (the
 * width of one quantisation bin is 1/127.5), an upper bound on the discrete model's bits/dim in expectation.
 *
 * @example
 *   const f = EpsDivergence.create(trainedEpsModel(model, weights, schedulerConfig), { probes: 0 });
 *   const r = await pfOdeLikelihood(f, x0, { rtol: 1e-5, atol: 1e-5 });
 *   r.nll;           // -log p(x0) per point, nats
 *   r.nfe;           // model evaluations
 */
import { NDArray, Philox } from '../../engine/index.ts';
import { solveRk45, type Rk45Options } from './rk45.ts';
import { rademacher, type EpsWithDivergence } from './divergence.ts';
import { meanAndStandardError, type MeanSe } from './stats.ts';

const LOG_2PI = Math.log(2 * Math.PI);

export interface PfOdeOptions extends Rk45Options {
  /** Lower end of the integration (default: the model's smallest noise level). */
  sigmaMin?: number;
  /** Upper end (default: the model's largest noise level). */
  sigmaMax?: number;
  /** Seed of the Hutchinson probes (Philox; default 0). */
  seed?: number;
  /** Points per ODE solve (each solve has its own adaptive steps; default: all points at once). */
  batchSize?: number;
  /** Class labels per point (class-conditional models: log p(x | y)). */
  labels?: ArrayLike<number>;
}

export interface PfOdeResult {
  /** -log p(x0) per point, in nats. */
  nll: Float64Array;
  /** Mean NLL (nats per point) and its standard error over points. */
  nllMean: MeanSe;
  /** log N(y_T; 0, (1 + sigma_max^2) I) per point. */
  priorLogp: Float64Array;
  /** int div per point. */
  deltaLogp: Float64Array;
  /** y(sigma_max) per point (the latent in the VE frame), same shape as x0. */
  latent: NDArray;
  /** Model evaluations (graph runs; each is one forward and the backward passes of the divergence). */
  nfe: number;
  /** Accepted and rejected RK45 steps over all solves. */
  steps: number;
  rejected: number;
  sigmaMin: number;
  sigmaMax: number;
}

/**
 * -log p(x0) of each point under the model's probability-flow ODE (see the module doc).
 * @example const { nllMean } = await pfOdeLikelihood(f, heldOut, { rtol: 1e-5, atol: 1e-5 });
 */
export async function pfOdeLikelihood(f: EpsWithDivergence, x0: NDArray, o: PfOdeOptions = {}): Promise<PfOdeResult> {
  const shape = f.sampleShape;
  const D = shape.reduce((a, b) => a * b, 1);
  if (x0.ndim !== shape.length + 1 || shape.some((d, i) => d !== x0.shape[i + 1])) {
    throw new Error(
      `pfOdeLikelihood: data of shape [${x0.shape.join(', ')}] do not match the model's samples [N, ${shape.join(', ')}]`,
    );
  }
  const N = x0.shape[0];
  if (N < 1) throw new Error('pfOdeLikelihood: no data points');
  const sigmaMin = o.sigmaMin ?? f.sigmaRange[0];
  const sigmaMax = o.sigmaMax ?? f.sigmaRange[1];
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin && Number.isFinite(sigmaMax))) {
    throw new Error(
      `pfOdeLikelihood: need 0 < sigmaMin < sigmaMax < inf, got sigmaMin = ${sigmaMin}, sigmaMax = ${sigmaMax}`,
    );
  }
  const batchSize = o.batchSize ?? N;
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`pfOdeLikelihood: batchSize = ${batchSize} must be a positive integer`);
  if (o.labels && o.labels.length !== N) throw new Error(`pfOdeLikelihood: ${o.labels.length} labels for ${N} points`);
  const probeRng = new Philox(o.seed ?? 0).fold(0x7ace);

  const nll = new Float64Array(N),
    priorLogp = new Float64Array(N),
    deltaLogp = new Float64Array(N);
  const latent = new NDArray(x0.shape);
  let nfe = 0,
    steps = 0,
    rejected = 0;
  const logVarT = Math.log1p(sigmaMax * sigmaMax);
  for (let start = 0; start < N; start += batchSize) {
    const B = Math.min(batchSize, N - start);
    const bShape = [B, ...shape];
    const probes = f.probes > 0 ? rademacher(bShape, f.probes, probeRng) : [];
    const labels = o.labels ? Float32Array.from(Array.from(o.labels).slice(start, start + B)) : undefined;
    const z0 = new Float64Array(B * D + B);
    for (let i = 0; i < B * D; i++) z0[i] = x0.data[start * D + i];
    const rhs = async (u: number, z: Float64Array): Promise<Float64Array> => {
      const sigma = Math.exp(u);
      const c = 1 / Math.sqrt(1 + sigma * sigma);
      const x = new NDArray(bShape);
      for (let i = 0; i < B * D; i++) x.data[i] = z[i] * c;
      const { eps, div } = await f.evaluate(x, sigma, probes, labels);
      const dz = new Float64Array(z.length);
      for (let i = 0; i < B * D; i++) dz[i] = sigma * eps.data[i];
      for (let b = 0; b < B; b++) dz[B * D + b] = sigma * c * div[b];
      return dz;
    };
    const r = await solveRk45(rhs, Math.log(sigmaMin), Math.log(sigmaMax), z0, o);
    nfe += r.nfe;
    steps += r.steps;
    rejected += r.rejected;
    for (let b = 0; b < B; b++) {
      let q = 0;
      for (let i = 0; i < D; i++) {
        const v = r.y[b * D + i];
        q += v * v;
        latent.data[(start + b) * D + i] = v;
      }
      const lp = -0.5 * D * (LOG_2PI + logVarT) - (0.5 * q) / (1 + sigmaMax * sigmaMax);
      priorLogp[start + b] = lp;
      deltaLogp[start + b] = r.y[B * D + b];
      nll[start + b] = -(lp + r.y[B * D + b]);
    }
  }
  return {
    nll,
    nllMean: meanAndStandardError(nll),
    priorLogp,
    deltaLogp,
    latent,
    nfe,
    steps,
    rejected,
    sigmaMin,
    sigmaMax,
  };
}

/**
 * Uniform dequantisation of 8-bit images in [-1, 1]: x + (u - 1/2) / 127.5 with u ~ U[0, 1) (Theis et al. 2016).
 * @example const xd = dequantize(images, new Philox(1));
 */
export function dequantize(x: NDArray, generator: Philox): NDArray {
  const u = generator.uniform(x.shape);
  return x.map((v, i) => v + (u.data[i] - 0.5) / 127.5);
}

/**
 * Bits per dimension of 8-bit data from -log p of dequantised points in [-1, 1] (nats per point, D dims):
 * nll / (D ln 2) + log2(127.5).
 * @example bitsPerDimFromNll(1500, 784)
 */
export function bitsPerDimFromNll(nllNats: number, D: number): number {
  return nllNats / (D * Math.LN2) + Math.log2(127.5);
}
