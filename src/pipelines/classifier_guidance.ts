/**
 * Classifier guidance (Dhariwal & Nichol 2021, sec. 4.2, Algorithm 2 / eq. 14): steer an
 * (unconditional) epsilon model toward class y with the gradient of a noisy classifier,
 *   eps_hat(x_t, t) = eps(x_t, t) - s * sqrt(1 - abar_t) * grad_x log p_phi(y | x_t, t),
 * which is the score of p_t(x) p_phi(y | x)^s. The gradient comes from the engine's reverse-mode
 * autodiff: one compiled graph returns grad_x and log p_phi(y | x_t) per sample. The guided model is an
 * ordinary AsyncModelFn, so `generate`, `inpaint`, `img2img` all take it. No file system here.
 *
 * @example
 *   const clf = new ClassifierGradient(net, weights);
 *   const guided = classifierGuidedModel(denoise, clf, { alphasCumprod: sched.alphasCumprod, classLabels: ys, scale: 4, modelLabels: nulls });
 *   const x = await generate(guided, sched, { shape: [ys.length, 1, 28, 28], steps: 50, generator: new Philox(0) });
 */
import {
  NDArray,
  compile,
  grad,
  logSoftmax,
  mul,
  softmax,
  sum,
  trace,
  type Executable,
  type Value,
} from '../engine/index.ts';
import { withParams } from '../nn/module.ts';
import type { NoisyClassifier } from '../models/noisy_classifier.ts';
import type { AsyncModelFn } from './generate.ts';

/** Anything that gives grad_x log p(y | x_t, t) per sample: a trained ClassifierGradient, or a closed form. */
export interface ClassLogProbGradient {
  gradLogProb(x: NDArray, t: Float32Array, labels: ArrayLike<number>): Promise<{ grad: NDArray; logProb?: NDArray }>;
}

/** A noisy classifier with fixed weights: class probabilities and grad_x log p(y | x_t, t). */
export class ClassifierGradient implements ClassLogProbGradient {
  private readonly gradExe = new Map<number, Promise<Executable>>();
  private readonly probExe = new Map<number, Promise<Executable>>();
  constructor(
    readonly net: NoisyClassifier,
    readonly weights: Record<string, NDArray>,
  ) {}

  get numClasses(): number {
    return this.net.config.num_classes;
  }

  private specs(B: number) {
    return [
      { name: 'x', shape: [B, ...this.net.config.sample_shape] },
      { name: 't', shape: [B] },
    ];
  }

  private onehot(labels: ArrayLike<number>): NDArray {
    const K = this.numClasses,
      B = labels.length;
    const y = new NDArray([B, K]);
    for (let i = 0; i < B; i++) {
      const k = labels[i];
      if (!Number.isInteger(k) || k < 0 || k >= K)
        throw new Error(`classifier guidance: class ${k} is not in 0..${K - 1}`);
      y.data[i * K + k] = 1;
    }
    return y;
  }

  /**
   * grad_x log p(y | x_t, t) [B, ...] and log p(y | x_t, t) [B] for the target classes.
   * @example const { grad, logProb } = await clf.gradLogProb(x, t, [3, 3])
   */
  async gradLogProb(
    x: NDArray,
    t: Float32Array,
    labels: ArrayLike<number>,
  ): Promise<{ grad: NDArray; logProb: NDArray }> {
    const B = x.shape[0];
    if (labels.length !== B) throw new Error(`classifier guidance: ${labels.length} class labels for a batch of ${B}`);
    let exe = this.gradExe.get(B);
    if (!exe) {
      exe = compile(
        trace(
          (xv: Value, tv: Value, y: Value) =>
            withParams(this.net, this.weights, () => {
              const logp = sum(mul(y, logSoftmax(this.net.forward(xv, tv), 1)), [1]);
              return { grad: grad(sum(logp), [xv])[0], log_prob: logp }; // samples are independent: d(sum)/dx_i = d logp_i / dx_i
            }),
          [...this.specs(B), { name: 'y', shape: [B, this.numClasses] }],
        ),
      );
      this.gradExe.set(B, exe);
    }
    const [g, lp] = await (await exe).run({ x, t: new NDArray([B], t), y: this.onehot(labels) });
    return { grad: g, logProb: lp };
  }

  /** Class probabilities [B, K] at noise level t. @example await clf.probs(x0, new Float32Array(B)) */
  async probs(x: NDArray, t: Float32Array): Promise<NDArray> {
    const B = x.shape[0];
    let exe = this.probExe.get(B);
    if (!exe) {
      exe = compile(
        trace(
          (xv: Value, tv: Value) =>
            withParams(this.net, this.weights, () => ({ probs: softmax(this.net.forward(xv, tv), 1) })),
          this.specs(B),
        ),
      );
      this.probExe.set(B, exe);
    }
    return (await (await exe).run({ x, t: new NDArray([B], t) }))[0];
  }
}

/** Options of `classifierGuidedModel`. */
export interface ClassifierGuidanceOptions {
  /** The training schedule's alphaBar_t (scheduler.alphasCumprod). */
  alphasCumprod: ArrayLike<number>;
  /** Target class per sample. */
  classLabels: ArrayLike<number>;
  /** Guidance scale s (0 = off). */
  scale: number;
  /** Labels passed to the diffusion model itself (its null class for a class-conditional model; omit for unconditional models). */
  modelLabels?: ArrayLike<number>;
}

/**
 * An epsilon model guided by a classifier (see the module doc). Timesteps between training steps use the
 * nearest alphaBar.
 * @example const guided = classifierGuidedModel(model, clf, { alphasCumprod, classLabels: [7, 7], scale: 3 })
 */
export function classifierGuidedModel(
  model: AsyncModelFn,
  clf: ClassLogProbGradient,
  o: ClassifierGuidanceOptions,
): AsyncModelFn {
  if (!(Number.isFinite(o.scale) && o.scale >= 0))
    throw new Error(`--classifier-scale ${o.scale}: expected a number >= 0`);
  const modelLabels = o.modelLabels ? Float32Array.from(o.modelLabels) : undefined;
  const T = o.alphasCumprod.length;
  return async (x, t) => {
    const eps = await model(x, t, modelLabels);
    if (o.scale === 0) return eps;
    const { grad: g } = await clf.gradLogProb(x, t, o.classLabels);
    const B = x.shape[0],
      per = x.size / B;
    const C = x.shape[1],
      outC = eps.shape[1];
    const out = eps.clone();
    for (let b = 0; b < B; b++) {
      const ti = Math.min(T - 1, Math.max(0, Math.round(t[b])));
      const c = o.scale * Math.sqrt(1 - o.alphasCumprod[ti]);
      // learned-variance outputs carry 2C channels: guide the eps half only
      const base = b * (per / C) * outC;
      for (let i = 0; i < per; i++) out.data[base + i] -= c * g.data[b * per + i];
    }
    return out;
  };
}
