/**
 * The compiled train step: one ONNX graph that takes parameters, AdamW moments, the step count,
 * the learning rate and a batch, and returns the loss, new parameters and new moments — forward,
 * backward and optimizer update in a single ONNX Runtime call, with no per-parameter round trips.
 *
 * @example
 *   const ts = await TrainStep.create(
 *     (p, b) => mean(square(sub(add(matmul(b.x, p.w), p.b), b.y))),
 *     { w: NDArray.zeros([1, 1]), b: NDArray.zeros([1]) },
 *     [{ name: 'x', shape: [32, 1] }, { name: 'y', shape: [32, 1] }]);
 *   const { loss } = await ts.step({ x, y }, 1e-2);
 */
import {
  NDArray, add, clip, compile, div, grad, mul, sqrt, sum, trace,
  type Executable, type InputSpec, type SessionOptions, type Value,
} from '../engine/index.ts';
import { adamwUpdate, validateAdamW, type AdamWConfig } from './adamw.ts';

export type LossFn = (params: Record<string, Value>, batch: Record<string, Value>) => Value;

export interface TrainStepOptions {
  optimizer?: AdamWConfig;
  /** Clip gradients to this global L2 norm (like torch.nn.utils.clip_grad_norm_); off when undefined. */
  maxGradNorm?: number;
  session?: SessionOptions;
}

export class TrainStep {
  /** Number of completed steps (AdamW's t before the next step). */
  t = 0;
  private constructor(
    private readonly exe: Executable,
    readonly paramNames: string[],
    public params: Record<string, NDArray>,
    public m: Record<string, NDArray>,
    public v: Record<string, NDArray>,
  ) {}

  /** Trace, differentiate and compile the whole step. */
  static async create(lossFn: LossFn, params: Record<string, NDArray>, batch: InputSpec[], opts: TrainStepOptions = {}): Promise<TrainStep> {
    const names = Object.keys(params);
    if (names.length === 0) throw new Error('TrainStep: no parameters to train');
    const cfg = validateAdamW(opts.optimizer ?? {});
    if (opts.maxGradNorm !== undefined && !(opts.maxGradNorm > 0)) throw new Error(`TrainStep: maxGradNorm must be > 0, got ${opts.maxGradNorm}`);
    for (const b of batch) if (b.name.includes('.') || ['t', 'lr'].includes(b.name)) throw new Error(`TrainStep: batch input name '${b.name}' is reserved or contains '.'`);
    const specs: InputSpec[] = [
      ...names.map((n) => ({ name: `p.${n}`, shape: params[n].shape })),
      ...names.map((n) => ({ name: `m.${n}`, shape: params[n].shape })),
      ...names.map((n) => ({ name: `v.${n}`, shape: params[n].shape })),
      { name: 't', shape: [] }, { name: 'lr', shape: [] },
      ...batch,
    ];
    const k = names.length;
    const graph = trace((...xs: Value[]) => {
      const p = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
      const [t, lr] = [xs[3 * k], xs[3 * k + 1]];
      const b = Object.fromEntries(batch.map((s, i) => [s.name, xs[3 * k + 2 + i]]));
      const loss = lossFn(p, b);
      let grads = grad(loss, names.map((n) => p[n]));
      const out: Record<string, Value> = { loss };
      if (opts.maxGradNorm !== undefined) {
        // clip_grad_norm_: g <- g * min(1, maxNorm / (||g|| + 1e-6))
        const norm = sqrt(grads.map((g) => sum(mul(g, g))).reduce((a, c) => add(a, c)));
        const ratio = div(opts.maxGradNorm, add(norm, 1e-6));
        const coef = clip(ratio, undefined, 1);
        grads = grads.map((g) => mul(g, coef));
        out.grad_norm = norm;
      }
      names.forEach((n, i) => {
        const u = adamwUpdate(p[n], grads[i], xs[k + i], xs[2 * k + i], t, lr, cfg);
        out[`new_p.${n}`] = u.p;
        out[`new_m.${n}`] = u.m;
        out[`new_v.${n}`] = u.v;
      });
      return out;
    }, specs);
    const exe = await compile(graph, opts.session);
    const zeros = () => Object.fromEntries(names.map((n) => [n, NDArray.zeros(params[n].shape)]));
    return new TrainStep(exe, names, { ...params }, zeros(), zeros());
  }

  /** One optimizer step on `batch` with learning rate `lr`; returns the loss before the update. */
  async step(batch: Record<string, NDArray>, lr: number): Promise<{ loss: number; gradNorm?: number }> {
    const feeds: Record<string, NDArray> = { t: NDArray.scalar(this.t + 1), lr: NDArray.scalar(lr) };
    for (const n of this.paramNames) {
      feeds[`p.${n}`] = this.params[n];
      feeds[`m.${n}`] = this.m[n];
      feeds[`v.${n}`] = this.v[n];
    }
    Object.assign(feeds, batch);
    const outs = await this.exe.run(feeds);
    const byName = Object.fromEntries(this.exe.outputNames.map((n, i) => [n, outs[i]]));
    for (const n of this.paramNames) {
      this.params[n] = byName[`new_p.${n}`];
      this.m[n] = byName[`new_m.${n}`];
      this.v[n] = byName[`new_v.${n}`];
    }
    this.t += 1;
    return { loss: byName.loss.item(), gradNorm: byName.grad_norm?.item() };
  }
}
