/**
 * A noise-prediction model together with the divergence of its output, as one traced graph — the
 * right-hand side of the probability-flow ODE likelihood (Song et al. 2021, eq. 39 / appendix D.2,
 * which needs div_x of the drift along the trajectory).
 *
 *  - exact: tr(d eps / d x) = sum_i e_i^T J e_i, one reverse-mode pass per input dimension i, all in
 *    the same graph (the forward pass is shared): for low-dimensional data (D <= `EXACT_MAX_DIM`).
 *  - Hutchinson: tr(J) ~ (1/K) sum_k v_k^T J v_k with Rademacher probes v_k in {-1, +1}^D
 *    (Hutchinson 1990; "Skilling-Hutchinson" in Song et al. 2021 / FFJORD eq. 7), one vector-Jacobian
 *    product per probe. Unbiased; exact whenever J is diagonal.
 *
 * The graph's inputs are `sample` [B, ...] (the VP-frame model input x_t), `cond` [B] (what the model
 * gets as its time input: a training timestep for trained networks, or sigma for analytic models),
 * `sigma` [B] (the noise level, for prediction-type conversion), optional `class_labels` [B] and the
 * probes `probe_k` [B, ...]; its outputs are `eps` [B, ...] and `div` [B].
 *
 * @example
 *   const m = trainedEpsModel(model, weights, schedulerConfig);
 *   const f = await EpsDivergence.create(m, 256, { probes: 0 });       // exact, D backward passes
 *   const { eps, div } = await f.evaluate(x, 1.5);
 */
import {
  NDArray,
  compile,
  constant,
  div as divide,
  grad,
  mul,
  add,
  sub,
  sum,
  rsqrt,
  slice,
  broadcastTo,
  reshape,
  trace,
  type Executable,
  type InputSpec,
  type Philox,
  type Value,
} from '../../engine/index.ts';
import { withParams } from '../../nn/module.ts';
import type { DiffusionModel } from '../../models/registry.ts';
import { isClassConditional, modelSampleShape } from '../../pipelines/denoiser.ts';
import { sigmaTable, trainingAlphasCumprod } from './training_schedule.ts';

/** Largest input dimension for the exact (full-trace) divergence: beyond it, use Hutchinson probes. */
export const EXACT_MAX_DIM = 64;

/** A traced noise-prediction model and how to condition it on a noise level. */
export interface TracedEpsModel {
  /** Shape of one sample (no batch axis). */
  readonly sampleShape: readonly number[];
  /** eps-prediction from x [B, ...] (VP frame), cond [B], sigma [B] (and labels [B] for class-conditional models). */
  eps(x: Value, cond: Value, sigma: Value, labels?: Value): Value;
  /** Host side: the `cond` value the model needs at noise level sigma. */
  conditioning(sigma: number): number;
  /** Noise levels the model knows: [sigmaMin, sigmaMax]. */
  readonly sigmaRange: readonly [number, number];
  readonly classConditional: boolean;
}

/** Everything the probability-flow ODE needs from a model: eps and div_x eps at a noise level. */
export interface EpsWithDivergence {
  readonly sampleShape: readonly number[];
  readonly sigmaRange: readonly [number, number];
  /** 0 = exact trace; K > 0 = Hutchinson with K probes per evaluation. */
  readonly probes: number;
  evaluate(
    x: NDArray,
    sigma: number,
    probes?: readonly NDArray[],
    labels?: Float32Array,
  ): Promise<{ eps: NDArray; div: Float64Array }>;
}

/**
 * Convert a model output to eps inside a graph (x = alpha x0 + s eps with alpha = 1/sqrt(1+sigma^2),
 * s = sigma/sqrt(1+sigma^2)): sample -> (x sqrt(1+sigma^2) - x0) / sigma; v_prediction -> alpha v + s x
 * (Salimans & Ho 2022, v = alpha eps - s x0). `sigma` is [B].
 */
export function epsFromPrediction(out: Value, x: Value, sigma: Value, predictionType: string): Value {
  if (predictionType === 'epsilon') return out;
  const col = (c: Value) => reshape(c, [c.shape[0], ...x.shape.slice(1).map(() => 1)]);
  const s = col(sigma);
  const invNorm = rsqrt(add(mul(s, s), 1)); // alpha = 1 / sqrt(1 + sigma^2)
  if (predictionType === 'sample') return divide(sub(divide(x, invNorm), out), s);
  if (predictionType === 'v_prediction') return add(mul(invNorm, out), mul(mul(s, invNorm), x));
  throw new Error(`prediction_type '${predictionType}' is not supported (allowed: epsilon, sample, v_prediction)`);
}

/**
 * A trained network (model + weights + its training scheduler config) as a TracedEpsModel: cond is the
 * fractional training timestep of sigma, learned-variance channels are dropped, v / x0 predictions are
 * converted to eps.
 * @example const m = trainedEpsModel(loaded.model, loaded.weights, loaded.schedulerConfig);
 */
export function trainedEpsModel(
  model: DiffusionModel,
  weights: Record<string, NDArray>,
  schedulerConfig: Record<string, unknown>,
): TracedEpsModel {
  const { sigmas, timestepOf } = sigmaTable(trainingAlphasCumprod(schedulerConfig));
  const predictionType = String(schedulerConfig.prediction_type ?? 'epsilon');
  const shape = modelSampleShape(model);
  const C = shape[0];
  return {
    sampleShape: shape,
    classConditional: isClassConditional(model),
    sigmaRange: [sigmas[0], sigmas[sigmas.length - 1]],
    conditioning: timestepOf,
    eps(x, cond, sigma, labels) {
      let out = withParams(model, weights, () => model.forward(x, cond, labels));
      if (out.shape[1] === 2 * C) out = slice(out, [0], [C], [1]); // learned-range variance channels
      return epsFromPrediction(out, x, sigma, predictionType);
    },
  };
}

/**
 * `count` Rademacher probes (entries -1 or +1 with probability 1/2) of the given shape, from the low bit of
 * the generator's 32-bit words.
 * @example const v = rademacher([4, 2], 1, new Philox(0))[0];
 */
export function rademacher(shape: readonly number[], count: number, generator: Philox): NDArray[] {
  return Array.from({ length: count }, () => {
    const a = new NDArray(shape);
    const bits = generator.bits(a.size);
    for (let i = 0; i < a.size; i++) a.data[i] = bits[i] & 1 ? 1 : -1;
    return a;
  });
}

/**
 * Trace eps and its divergence for a fixed batch size (see the module doc for the estimators).
 * `probes` = 0: exact trace; K > 0: Hutchinson with K probe inputs.
 */
export function traceEpsDivergence(m: TracedEpsModel, batch: number, probes: number) {
  const D = m.sampleShape.reduce((a, b) => a * b, 1);
  if (!(Number.isInteger(probes) && probes >= 0))
    throw new Error(`divergence: probes = ${probes} must be a non-negative integer (0 = exact trace)`);
  if (probes === 0 && D > EXACT_MAX_DIM) {
    throw new Error(
      `divergence: the exact trace needs ${D} backward passes (samples of shape [${m.sampleShape.join(', ')}]); it is allowed up to D = ${EXACT_MAX_DIM}. Use Hutchinson probes instead (e.g. --divergence hutchinson --probes 1)`,
    );
  }
  const xShape = [batch, ...m.sampleShape];
  const specs: InputSpec[] = [
    { name: 'sample', shape: xShape },
    { name: 'cond', shape: [batch] },
    { name: 'sigma', shape: [batch] },
  ];
  if (m.classConditional) specs.push({ name: 'class_labels', shape: [batch] });
  for (let k = 0; k < probes; k++) specs.push({ name: `probe_${k}`, shape: xShape });
  const rest = [...Array(xShape.length).keys()].slice(1);
  return trace((...xs: Value[]) => {
    const [x, cond, sigma] = xs;
    const labels = m.classConditional ? xs[3] : undefined;
    const eps = m.eps(x, cond, sigma, labels);
    if (eps.shape.length !== xShape.length || eps.shape.some((d, i) => d !== xShape[i])) {
      throw new Error(
        `divergence: the model's eps has shape [${eps.shape.join(', ')}], expected [${xShape.join(', ')}]`,
      );
    }
    let div: Value | undefined;
    if (probes === 0) {
      // sum_i e_i^T J e_i: the VJP with cotangent e_i (one-hot over a sample's D entries), read at entry i.
      for (let i = 0; i < D; i++) {
        const onehot = new NDArray([1, ...m.sampleShape]);
        onehot.data[i] = 1;
        const e = broadcastTo(constant(onehot), xShape);
        const [g] = grad(eps, [x], e);
        const term = sum(mul(g, e), rest);
        div = div ? add(div, term) : term;
      }
    } else {
      const first = xs.length - probes;
      for (let k = 0; k < probes; k++) {
        const v = xs[first + k];
        const [g] = grad(eps, [x], v); // v^T J
        const term = sum(mul(g, v), rest);
        div = div ? add(div, term) : term;
      }
      if (probes > 1) div = mul(div!, 1 / probes);
    }
    return { eps, div: div! };
  }, specs);
}

/** Compiled eps + divergence for one traced model; compiles one graph per batch size. */
export class EpsDivergence implements EpsWithDivergence {
  private readonly cache = new Map<number, Promise<Executable>>();
  private constructor(
    readonly model: TracedEpsModel,
    readonly probes: number,
  ) {}

  get sampleShape(): readonly number[] {
    return this.model.sampleShape;
  }
  get sigmaRange(): readonly [number, number] {
    return this.model.sigmaRange;
  }

  /**
   * @param probes 0 = exact trace (D <= EXACT_MAX_DIM), K = Hutchinson with K Rademacher probes.
   * @example const f = EpsDivergence.create(trainedEpsModel(model, w, cfg), { probes: 0 });
   */
  static create(model: TracedEpsModel, o: { probes: number }): EpsDivergence {
    const f = new EpsDivergence(model, o.probes);
    traceEpsDivergence(model, 1, o.probes); // validate now (clear errors before any work)
    return f;
  }

  async evaluate(
    x: NDArray,
    sigma: number,
    probes: readonly NDArray[] = [],
    labels?: Float32Array,
  ): Promise<{ eps: NDArray; div: Float64Array }> {
    const B = x.shape[0];
    if (probes.length !== this.probes)
      throw new Error(`EpsDivergence.evaluate: got ${probes.length} probes, configured for ${this.probes}`);
    if (this.model.classConditional && !labels)
      throw new Error('EpsDivergence.evaluate: this model is class-conditional; pass class labels');
    let exe = this.cache.get(B);
    if (!exe) {
      exe = compile(traceEpsDivergence(this.model, B, this.probes));
      this.cache.set(B, exe);
    }
    const feeds: Record<string, NDArray> = {
      sample: x,
      cond: NDArray.full([B], this.model.conditioning(sigma)),
      sigma: NDArray.full([B], sigma),
    };
    if (this.model.classConditional) feeds.class_labels = new NDArray([B], labels!);
    probes.forEach((p, k) => {
      feeds[`probe_${k}`] = p;
    });
    const [eps, div] = await (await exe).run(feeds);
    return { eps, div: Float64Array.from(div.data) };
  }
}
