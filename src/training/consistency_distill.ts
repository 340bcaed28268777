/**
 * Consistency distillation (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models", Algorithm 2, with the
 * EDM parameterisation of their Appendix C): a student consistency function f_theta(x, sigma), which maps every
 * point of the teacher's probability-flow ODE trajectory to its end, learned by making it agree at neighbouring
 * points of the Karras grid, one teacher ODE step apart:
 *
 *   grid       sigma_1 = sigma_min < ... < sigma_N = sigma_max   (Karras et al. 2022, eq. 5, rho = 7)
 *   per row    n ~ U{1, ..., N-1},  x_{n+1} = x0 + sigma_{n+1} z
 *   teacher    x^_n = one Heun (or Euler) step of dx/dsigma = (x - D(x; sigma)) / sigma from sigma_{n+1} to sigma_n
 *   loss       d( f_theta(x_{n+1}, sigma_{n+1}), f_theta-(x^_n, sigma_n) )
 *              with d = mean squared distance ('l2') or the pseudo-Huber sqrt(||a - b||^2 + c^2) - c
 *              (Song & Dhariwal 2023, "Improved Techniques for Training Consistency Models", c = 0.00054 sqrt(dim))
 *   target     theta- <- stopgrad(mu theta- + (1 - mu) theta) after each optimizer step (mu = targetDecay)
 *
 * f_theta = c_skip x + c_out F_theta(c_in x; c_noise) with the boundary coefficients of src/diffusion/consistency.ts
 * (f(x, sigma_min) = x); c_in and the noise label are EDM's, so the student starts from an EDM teacher's weights.
 * In the train step the loss is written on F: f - target = c_out (F - (target - c_skip x) / c_out), so the graph
 * inputs are those of the EDM objective with the per-row weight c_out^2.
 *
 * The student is saved as a model folder whose scheduler config is diffusers' CMStochasticIterativeScheduler
 * (num_train_timesteps = N, clip_denoised false, and diffuse's noise_label_scale key); that scheduler is the
 * multistep consistency sampler (Algorithm 1): x = f(sigma_max z, sigma_max), then for each next sigma of its
 * K-step sub-grid x = f(x + sqrt(sigma^2 - sigma_min^2) z, sigma).
 *
 * @example
 *   const r = await consistencyDistill({ teacher: loadPipelineFolder('runs/moons-edm'), data, iterations: 2000 });
 *   saveModelFolder('runs/moons-cd', teacher.model.toConfig(), r.weights, r.schedulerConfig);
 */
import { NDArray, Philox, add, mean, mul, reshape, sqrt, square, sub, sum, type Value } from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import { EDM_DEFAULTS, edmPreconditioning } from '../diffusion/edm.ts';
import { consistencyPreconditioning } from '../diffusion/consistency.ts';
import { karrasSigmas } from '../schedules/sigmas.ts';
import { denoiserFor, denoiserWithWeightInputs } from '../pipelines/denoiser.ts';
import type { AsyncModelFn } from '../pipelines/generate.ts';
import { denoiserOfModel, modelFormulation, type ModelFormulation } from '../pipelines/formulation.ts';
import { TrainStep } from './train_step.ts';
import { Ema } from './ema.ts';
import type { DistillData, DistillOptions } from './distill.ts';

/** The distance of the consistency loss. */
export type ConsistencyMetric = 'l2' | 'pseudo-huber';

export interface ConsistencyDistillOptions {
  /** The teacher: any trained model (its folder's scheduler config says its formulation). */
  teacher: DistillOptions['teacher'];
  data: DistillData;
  /** N, the number of points of the Karras grid (the paper: 18 on CIFAR-10, 40 on ImageNet 64); default 18. */
  gridSteps?: number;
  /** Optimizer steps (default 8000: measured on the toy sets, docs/fast-sampling.md). */
  iterations?: number;
  batchSize?: number;
  /**
   * Peak learning rate (cosine decay to 0 over the iterations). Default 8e-3, measured best of 1e-4 .. 8e-3 for
   * mlp-2d on the toy sets; the paper used 4e-4 on CIFAR-10, so take a lower one for image networks.
   */
  lr?: number;
  seed?: number;
  /** mu, the decay of the target network theta- (the paper's CD: 0.95). */
  targetDecay?: number;
  /** Decay of the EMA of the student's weights that is returned (default 0.999 with warm-up; 0 returns theta). */
  emaDecay?: number;
  /** The teacher's ODE step (the paper: Heun, EDM's second-order solver). */
  solver?: 'heun' | 'euler';
  metric?: ConsistencyMetric;
  /** c of the pseudo-Huber metric (default 0.00054 sqrt(dim)). */
  huberC?: number;
  /** sigma_data of the student's preconditioning (default: the teacher's if it is an EDM model, else 0.5). */
  sigmaData?: number;
  /** Smallest and largest noise level (default: the teacher's range, EDM's 0.002 .. 80 for an EDM teacher). */
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  /**
   * The student's starting weights (default: the teacher's when it is an EDM eps model with the same sigma_data,
   * else a fresh initialisation); e.g. an earlier student's to continue its distillation. The target network and
   * the EMA start from them too.
   */
  init?: Record<string, NDArray>;
  /** Called every `logEvery` (default 100) optimizer steps. */
  onLog?: (info: { iteration: number; loss: number; seconds: number }) => void;
  logEvery?: number;
}

export interface ConsistencyDistillResult {
  /** The student's weights (the EMA of theta, or theta when emaDecay is 0). */
  weights: Record<string, NDArray>;
  /** The target network theta- at the end. */
  targetWeights: Record<string, NDArray>;
  /** The student's scheduler config: CMStochasticIterativeScheduler (the multistep consistency sampler). */
  schedulerConfig: Record<string, unknown>;
  seconds: number;
  /** Mean loss of each logging interval. */
  losses: number[];
}

/**
 * The Karras grid of consistency training / distillation, ascending: sigma_1 = sigma_min, ..., sigma_N = sigma_max.
 * @example consistencyGrid(18, 0.002, 80)[0]  // 0.002
 */
export function consistencyGrid(N: number, sigmaMin: number, sigmaMax: number, rho = EDM_DEFAULTS.rho): Float64Array {
  if (!(Number.isInteger(N) && N >= 2)) throw new Error(`--grid-steps ${N}: must be an integer >= 2`);
  return karrasSigmas(sigmaMin, sigmaMax, N, rho).reverse();
}

/**
 * The consistency loss as traced ops, on the network output F [B, ...] and the batch (target, weight = c_out^2):
 * 'l2': mean over rows of weight * mean (F - target)^2 (= mean ||f - f-||^2 / dim);
 * 'pseudo-huber': mean over rows of sqrt(weight * sum (F - target)^2 + c^2) - c (= sqrt(||f - f-||^2 + c^2) - c).
 * @example const loss = consistencyLoss(model.forward(b.x_t, b.t), b, 'pseudo-huber', 0.00076);
 */
export function consistencyLoss(modelOutput: Value, b: Record<string, Value>, metric: ConsistencyMetric, c = 0): Value {
  const sq = square(sub(modelOutput, b.target));
  const axes = [...Array(sq.rank).keys()].slice(1);
  const w = reshape(b.weight, [b.weight.shape[0]]);
  if (metric === 'l2') return mean(mul(mean(sq, axes), w));
  return mean(sub(sqrt(add(mul(sum(sq, axes), w), c * c)), c));
}

/** The target update theta- <- mu theta- + (1 - mu) theta, in place. @example emaTargetUpdate(target, params, 0.95) */
export function emaTargetUpdate(target: Record<string, NDArray>, params: Record<string, NDArray>, mu: number): void {
  if (!(mu >= 0 && mu <= 1)) throw new Error(`--target-decay ${mu}: must be in [0, 1]`);
  for (const [k, t] of Object.entries(target)) {
    const p = params[k];
    if (!p) throw new Error(`emaTargetUpdate: parameter '${k}' missing`);
    const td = t.data,
      pd = p.data;
    for (let i = 0; i < td.length; i++) td[i] = mu * td[i] + (1 - mu) * pd[i];
  }
}

/** A denoiser (or consistency function) with one noise level per batch row. */
export type RowDenoiser = (x: NDArray, sigmas: ArrayLike<number>) => Promise<NDArray>;

/**
 * A model's denoiser D (EDM / VP model) or consistency function f (consistency model) with one noise level per row.
 * @example const f = rowDenoiserOfModel(denoiserFor(model, weights), modelFormulation(cfg)); await f(x, sigmas);
 */
export function rowDenoiserOfModel(fn: AsyncModelFn, f: ModelFormulation): RowDenoiser {
  if (f.kind === 'vp') {
    // one call per distinct level (the VP adapter takes one level per call)
    const D = denoiserOfModel(fn, f);
    return async (x, sigmas) => {
      const B = x.shape[0],
        inner = x.size / B;
      const out = new NDArray(x.shape);
      const levels = new Map<number, number[]>();
      for (let b = 0; b < B; b++) levels.set(sigmas[b], [...(levels.get(sigmas[b]) ?? []), b]);
      for (const [s, rows] of levels) {
        const xs = new NDArray([rows.length, ...x.shape.slice(1)]);
        rows.forEach((b, r) => xs.data.set(x.data.subarray(b * inner, (b + 1) * inner), r * inner));
        const d = await D(xs, s);
        rows.forEach((b, r) => out.data.set(d.data.subarray(r * inner, (r + 1) * inner), b * inner));
      }
      return out;
    };
  }
  return async (x, sigmas) => {
    const B = x.shape[0],
      inner = x.size / B;
    const pre = Array.from({ length: B }, (_, b) =>
      f.kind === 'edm'
        ? edmPreconditioning(sigmas[b], f.sigmaData, f.predictionType)
        : consistencyPreconditioning(sigmas[b], f.sigmaData, f.sigmaMin),
    );
    const xin = x.map((v, i) => pre[Math.floor(i / inner)].cIn * v);
    const labels = Float32Array.from(pre, (p) => f.noiseLabelScale * p.cNoise);
    const F = await fn(xin, labels);
    return x.map((v, i) => {
      const p = pre[Math.floor(i / inner)];
      return p.cSkip * v + p.cOut * F.data[i];
    });
  };
}

/**
 * The teacher's one ODE step of dx/dsigma = (x - D(x; sigma)) / sigma from sigmaFrom to sigmaTo (per row):
 * Euler, or Heun (EDM Algorithm 1's second-order correction).
 * @example const xn = await teacherOdeStep(D, x, from, to, 'heun');
 */
export async function teacherOdeStep(
  D: RowDenoiser,
  x: NDArray,
  sigmaFrom: ArrayLike<number>,
  sigmaTo: ArrayLike<number>,
  solver: 'heun' | 'euler',
): Promise<NDArray> {
  const inner = x.size / x.shape[0];
  const row = (i: number) => Math.floor(i / inner);
  const D1 = await D(x, sigmaFrom);
  const d1 = x.map((v, i) => (v - D1.data[i]) / sigmaFrom[row(i)]);
  const xe = x.map((v, i) => v + (sigmaTo[row(i)] - sigmaFrom[row(i)]) * d1.data[i]);
  if (solver === 'euler') return xe;
  const D2 = await D(xe, sigmaTo);
  return x.map((v, i) => {
    const r = row(i);
    const d2 = (xe.data[i] - D2.data[i]) / sigmaTo[r];
    return v + (sigmaTo[r] - sigmaFrom[r]) * 0.5 * (d1.data[i] + d2);
  });
}

/** Inputs of one batch of consistency distillation (the draws are given, so a test can fix them). */
export interface ConsistencyBatchInputs {
  /** Clean samples [B, ...]. */
  x0: NDArray;
  /** The noise z [B, ...]. */
  z: NDArray;
  /** Per row, the 0-based index n - 1 of the grid pair (sigma_n, sigma_{n+1}): 0 .. N-2. */
  n: ArrayLike<number>;
  /** The grid, ascending (consistencyGrid). */
  grid: ArrayLike<number>;
  /** The teacher's denoiser D. */
  teacher: RowDenoiser;
  /** The target network's consistency function f_theta-. */
  target: RowDenoiser;
  solver: 'heun' | 'euler';
  sigmaData: number;
  sigmaMin: number;
  noiseLabelScale: number;
}

/**
 * One batch of consistency distillation: x_{n+1} = x0 + sigma_{n+1} z, the teacher's step to x^_n, the target
 * f_theta-(x^_n, sigma_n), and the train-step inputs x_t = c_in x_{n+1}, t = noise label, target =
 * (f_theta- - c_skip x_{n+1}) / c_out and weight = c_out^2 (consistency coefficients at sigma_{n+1}).
 * @example const { batch } = await consistencyDistillBatch({ x0, z, n, grid, teacher, target, solver: 'heun', sigmaData: 0.5, sigmaMin: 0.002, noiseLabelScale: 1 });
 */
export async function consistencyDistillBatch(
  o: ConsistencyBatchInputs,
): Promise<{ xNext: NDArray; xHat: NDArray; fTarget: NDArray; batch: Record<string, NDArray> }> {
  const B = o.x0.shape[0],
    dim = o.x0.size / B,
    N = o.grid.length;
  if (o.n.length !== B) throw new Error(`consistencyDistillBatch: ${o.n.length} grid indices for a batch of ${B}`);
  for (let b = 0; b < B; b++)
    if (!(Number.isInteger(o.n[b]) && o.n[b] >= 0 && o.n[b] <= N - 2))
      throw new Error(`consistencyDistillBatch: n[${b}] = ${o.n[b]} must be an integer in 0..${N - 2}`);
  const sLo = Float64Array.from(o.n, (n) => o.grid[n]),
    sHi = Float64Array.from(o.n, (n) => o.grid[n + 1]);
  const xNext = o.x0.map((v, i) => v + sHi[Math.floor(i / dim)] * o.z.data[i]);
  const xHat = await teacherOdeStep(o.teacher, xNext, sHi, sLo, o.solver);
  const fTarget = await o.target(xHat, sLo);
  const xin = new NDArray(o.x0.shape),
    tgt = new NDArray(o.x0.shape),
    t = new NDArray([B]),
    weight = new NDArray([B]);
  for (let b = 0; b < B; b++) {
    const { cSkip, cOut, cIn, cNoise } = consistencyPreconditioning(sHi[b], o.sigmaData, o.sigmaMin);
    for (let i = b * dim; i < (b + 1) * dim; i++) {
      xin.data[i] = cIn * xNext.data[i];
      tgt.data[i] = (fTarget.data[i] - cSkip * xNext.data[i]) / cOut;
    }
    t.data[b] = o.noiseLabelScale * cNoise;
    weight.data[b] = cOut * cOut;
  }
  return { xNext, xHat, fTarget, batch: { x_t: xin, t, target: tgt, weight } };
}

/**
 * Consistency distillation; see the file comment. The student starts from the teacher's weights when the teacher
 * is an EDM model with the same sigma_data (else from a fresh initialisation).
 * @example const r = await consistencyDistill({ teacher: loadPipelineFolder('runs/moons-edm'), data, iterations: 2000 });
 */
export async function consistencyDistill(o: ConsistencyDistillOptions): Promise<ConsistencyDistillResult> {
  const f = modelFormulation(o.teacher.schedulerConfig);
  const N = o.gridSteps ?? 18;
  const iters = o.iterations ?? 8000,
    B = o.batchSize ?? 256,
    lr = o.lr ?? 8e-3;
  const mu = o.targetDecay ?? 0.95;
  const emaDecay = o.emaDecay ?? 0.999;
  const solver = o.solver ?? 'heun';
  const metric = o.metric ?? 'l2';
  if (!(Number.isInteger(iters) && iters >= 1)) throw new Error(`--iters ${iters}: must be a positive integer`);
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`--batch-size ${B}: must be a positive integer`);
  if (!(lr > 0)) throw new Error(`--lr ${lr}: must be > 0`);
  if (!(mu >= 0 && mu < 1)) throw new Error(`--target-decay ${mu}: must be in [0, 1)`);
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new Error(`--ema-decay ${emaDecay}: must be in [0, 1)`);
  if (solver !== 'heun' && solver !== 'euler') throw new Error(`--solver ${solver}: allowed values: heun, euler`);
  if (metric !== 'l2' && metric !== 'pseudo-huber')
    throw new Error(`--metric ${metric}: allowed values: l2, pseudo-huber`);
  const sigmaData = o.sigmaData ?? (f.kind !== 'vp' ? f.sigmaData : EDM_DEFAULTS.sigmaData);
  const vpRange = (i: number) =>
    f.kind === 'vp' ? Math.sqrt((1 - f.alphasCumprod[i]) / f.alphasCumprod[i]) : Number.NaN;
  const sigmaMin = o.sigmaMin ?? (f.kind !== 'vp' ? f.sigmaMin : vpRange(0));
  const sigmaMax = o.sigmaMax ?? (f.kind !== 'vp' ? f.sigmaMax : vpRange(f.alphasCumprod.length - 1));
  const rho = o.rho ?? EDM_DEFAULTS.rho;
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin))
    throw new Error(
      `consistencyDistill: sigma_min = ${sigmaMin}, sigma_max = ${sigmaMax}; need 0 < sigma_min < sigma_max`,
    );
  const grid = consistencyGrid(N, sigmaMin, sigmaMax, rho);
  const model = o.teacher.model;
  const shape = o.data.describe().sampleShape;
  const dim = shape.reduce((a, d) => a * d, 1);
  const c = o.huberC ?? 0.00054 * Math.sqrt(dim);
  const rng = new Philox(o.seed ?? 0);
  const fromTeacher = f.kind === 'edm' && f.sigmaData === sigmaData && f.predictionType === 'epsilon';
  const labelScale = fromTeacher ? f.noiseLabelScale : 1;
  const studentF: ModelFormulation = {
    kind: 'consistency',
    sigmaData,
    sigmaMin,
    sigmaMax,
    noiseLabelScale: labelScale,
  };
  const init = o.init ? { ...o.init } : fromTeacher ? { ...o.teacher.weights } : model.initParams(rng.fold(1));
  const teacherD = rowDenoiserOfModel(denoiserFor(model, o.teacher.weights), f);
  const withWeights = denoiserWithWeightInputs(model);
  const target = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, v.clone()]));
  const targetF = rowDenoiserOfModel(withWeights(target), studentF);
  const ts = await TrainStep.create(
    (p, b) => withParams(model, p, () => consistencyLoss(model.forward(b.x_t, b.t), b, metric, c)),
    init,
    [
      { name: 'x_t', shape: [B, ...shape] },
      { name: 't', shape: [B] },
      { name: 'target', shape: [B, ...shape] },
      { name: 'weight', shape: [B] },
    ],
    { maxGradNorm: 1 },
  );
  const ema = emaDecay > 0 ? new Ema(init, { maxDecay: emaDecay }) : null;
  const batchRng = rng.fold(2);
  const t0 = performance.now();
  const losses: number[] = [];
  const logEvery = o.logEvery ?? 100;
  let acc = 0,
    accN = 0;
  for (let it = 0; it < iters; it++) {
    const x0 = (await o.data.next()).x.reshape([B, ...shape]);
    const idx = batchRng.randint(B, N - 1); // n - 1 in 0..N-2: the pair (sigma_n, sigma_{n+1})
    const z = batchRng.normal(x0.shape);
    const { batch } = await consistencyDistillBatch({
      x0,
      z,
      n: idx,
      grid,
      teacher: teacherD,
      target: targetF,
      solver,
      sigmaData,
      sigmaMin,
      noiseLabelScale: labelScale,
    });
    const lrNow = lr * 0.5 * (1 + Math.cos((Math.PI * it) / iters));
    const { loss } = await ts.step(batch, lrNow);
    if (!Number.isFinite(loss))
      throw new Error(`consistencyDistill: the loss is ${loss} at iteration ${it}; lower --lr`);
    emaTargetUpdate(target, ts.params, mu);
    ema?.update(ts.params);
    acc += loss;
    accN += 1;
    if ((it + 1) % logEvery === 0 || it === iters - 1) {
      losses.push(acc / accN);
      o.onLog?.({ iteration: it + 1, loss: acc / accN, seconds: (performance.now() - t0) / 1000 });
      acc = 0;
      accN = 0;
    }
  }
  const schedulerConfig = {
    _class_name: 'CMStochasticIterativeScheduler',
    num_train_timesteps: N,
    sigma_min: sigmaMin,
    sigma_max: sigmaMax,
    sigma_data: sigmaData,
    s_noise: 1,
    rho,
    clip_denoised: false,
    noise_label_scale: labelScale,
  };
  return {
    weights: ema ? ema.params : { ...ts.params },
    targetWeights: target,
    schedulerConfig,
    seconds: (performance.now() - t0) / 1000,
    losses,
  };
}
