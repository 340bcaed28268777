/**
 * The compiled train step: one ONNX graph that takes parameters, AdamW moments, the step count,
 * the learning rate and a batch, and returns the loss, new parameters and new moments — forward,
 * backward and optimizer update in a single ONNX Runtime call, with no per-parameter round trips.
 *
 * With gradient accumulation (`gradAccumSteps` = K > 1) two graphs are compiled instead: one
 * computes loss and gradients of a micro-batch, the other applies clipping and AdamW to the mean
 * of K micro-batch gradients (memory of one micro-batch, result of the K-times larger batch).
 *
 * @example
 *   const ts = await TrainStep.create(
 *     (p, b) => mean(square(sub(add(matmul(b.x, p.w), p.b), b.y))),
 *     { w: NDArray.zeros([1, 1]), b: NDArray.zeros([1]) },
 *     [{ name: 'x', shape: [32, 1] }, { name: 'y', shape: [32, 1] }]);
 *   const { loss } = await ts.step({ x, y }, 1e-2);
 */
import {
  NDArray,
  add,
  clip,
  compile,
  concat,
  div,
  grad,
  mul,
  reshape,
  split,
  sqrt,
  sum,
  trace,
  type Executable,
  type InputSpec,
  type SessionOptions,
  type Value,
} from '../engine/index.ts';
import { adamwUpdate, validateAdamW, type AdamWConfig } from './adamw.ts';

export type LossFn = (params: Record<string, Value>, batch: Record<string, Value>) => Value;

export interface TrainStepOptions {
  optimizer?: AdamWConfig;
  /** Clip gradients to this global L2 norm (like torch.nn.utils.clip_grad_norm_); off when undefined. */
  maxGradNorm?: number;
  /** Micro-batches per optimizer step (default 1: one fused graph). */
  gradAccumSteps?: number;
  session?: SessionOptions;
}

type Batch = Record<string, NDArray>;

/**
 * Clipping + AdamW for every parameter, as traced ops; writes new_p./new_m./new_v. outputs.
 * The update runs once over all parameters concatenated into one flat vector (like PyTorch's
 * fused/foreach AdamW), then is split back: ~14 elementwise nodes in all instead of ~14 per
 * parameter tensor (mlp-2d step 1.05-1.07x; BENCHMARKS.md lever table).
 */
function applyUpdate(
  names: string[],
  p: Record<string, Value>,
  grads: Value[],
  m: Value[],
  v: Value[],
  t: Value,
  lr: Value,
  cfg: Required<AdamWConfig>,
  maxGradNorm: number | undefined,
  out: Record<string, Value>,
): void {
  const flat = (xs: Value[]): Value =>
    xs.length === 1
      ? reshape(xs[0], [-1])
      : concat(
          xs.map((x) => reshape(x, [-1])),
          0,
        );
  let g = flat(grads);
  if (maxGradNorm !== undefined) {
    // clip_grad_norm_: g <- g * min(1, maxNorm / (||g|| + 1e-6))
    const norm = sqrt(sum(mul(g, g)));
    const coef = clip(div(maxGradNorm, add(norm, 1e-6)), undefined, 1);
    g = mul(g, coef);
    out.grad_norm = norm;
  }
  const u = adamwUpdate(flat(names.map((n) => p[n])), g, flat(m), flat(v), t, lr, cfg);
  const sizes = names.map((n) => p[n].shape.reduce((a: number, d) => a * (d as number), 1));
  const unflat = (x: Value): Value[] =>
    (names.length === 1 ? [x] : split(x, sizes, 0)).map((piece, i) => reshape(piece, p[names[i]].shape));
  const [np, nm, nv] = [unflat(u.p), unflat(u.m), unflat(u.v)];
  names.forEach((n, i) => {
    out[`new_p.${n}`] = np[i];
    out[`new_m.${n}`] = nm[i];
    out[`new_v.${n}`] = nv[i];
  });
}

export class TrainStep {
  /** Number of completed steps (AdamW's t before the next step). */
  t = 0;
  private constructor(
    private readonly fused: Executable | null,
    private readonly gradExe: Executable | null,
    private readonly updateExe: Executable | null,
    readonly paramNames: string[],
    readonly gradAccumSteps: number,
    public params: Record<string, NDArray>,
    public m: Record<string, NDArray>,
    public v: Record<string, NDArray>,
  ) {}

  /** Trace, differentiate and compile the whole step. */
  static async create(
    lossFn: LossFn,
    params: Record<string, NDArray>,
    batch: InputSpec[],
    opts: TrainStepOptions = {},
  ): Promise<TrainStep> {
    const names = Object.keys(params);
    if (names.length === 0) throw new Error('TrainStep: no parameters to train');
    const cfg = validateAdamW(opts.optimizer ?? {});
    const maxNorm = opts.maxGradNorm;
    if (maxNorm !== undefined && !(maxNorm > 0)) throw new Error(`TrainStep: maxGradNorm must be > 0, got ${maxNorm}`);
    const K = opts.gradAccumSteps ?? 1;
    if (!(Number.isInteger(K) && K >= 1))
      throw new Error(`TrainStep: gradAccumSteps must be a positive integer, got ${K}`);
    for (const b of batch)
      if (b.name.includes('.'))
        throw new Error(
          `TrainStep: batch input name '${b.name}' must not contain '.' (reserved for parameters and optimizer state)`,
        );
    const pSpecs = names.map((n) => ({ name: `p.${n}`, shape: params[n].shape }));
    const mvSpecs = [
      ...names.map((n) => ({ name: `m.${n}`, shape: params[n].shape })),
      ...names.map((n) => ({ name: `v.${n}`, shape: params[n].shape })),
    ];
    const k = names.length;
    const zeros = () => Object.fromEntries(names.map((n) => [n, NDArray.zeros(params[n].shape)]));
    const rec = (vals: Value[], offset = 0) => Object.fromEntries(names.map((n, i) => [n, vals[offset + i]]));
    const batchRec = (vals: Value[], offset: number) =>
      Object.fromEntries(batch.map((s, i) => [s.name, vals[offset + i]]));

    if (K === 1) {
      const graph = trace(
        (...xs: Value[]) => {
          const p = rec(xs);
          const [t, lr] = [xs[3 * k], xs[3 * k + 1]];
          const loss = lossFn(p, batchRec(xs, 3 * k + 2));
          const out: Record<string, Value> = { loss };
          applyUpdate(
            names,
            p,
            grad(
              loss,
              names.map((n) => p[n]),
            ),
            xs.slice(k, 2 * k),
            xs.slice(2 * k, 3 * k),
            t,
            lr,
            cfg,
            maxNorm,
            out,
          );
          return out;
        },
        [...pSpecs, ...mvSpecs, { name: 'opt.t', shape: [] }, { name: 'opt.lr', shape: [] }, ...batch],
      );
      const fused = await compile(graph, opts.session);
      return new TrainStep(fused, null, null, names, 1, { ...params }, zeros(), zeros());
    }
    const gradGraph = trace(
      (...xs: Value[]) => {
        const p = rec(xs);
        const loss = lossFn(p, batchRec(xs, k));
        const grads = grad(
          loss,
          names.map((n) => p[n]),
        );
        return { loss, ...Object.fromEntries(names.map((n, i) => [`g.${n}`, grads[i]])) };
      },
      [...pSpecs, ...batch],
    );
    const updateGraph = trace(
      (...xs: Value[]) => {
        const p = rec(xs);
        const out: Record<string, Value> = {};
        applyUpdate(
          names,
          p,
          xs.slice(3 * k, 4 * k),
          xs.slice(k, 2 * k),
          xs.slice(2 * k, 3 * k),
          xs[4 * k],
          xs[4 * k + 1],
          cfg,
          maxNorm,
          out,
        );
        return out;
      },
      [
        ...pSpecs,
        ...mvSpecs,
        ...names.map((n) => ({ name: `g.${n}`, shape: params[n].shape })),
        { name: 'opt.t', shape: [] },
        { name: 'opt.lr', shape: [] },
      ],
    );
    const [g, u] = await Promise.all([compile(gradGraph, opts.session), compile(updateGraph, opts.session)]);
    return new TrainStep(null, g, u, names, K, { ...params }, zeros(), zeros());
  }

  private stateFeeds(): Record<string, NDArray> {
    const feeds: Record<string, NDArray> = { 'opt.t': NDArray.scalar(this.t + 1) };
    for (const n of this.paramNames) {
      feeds[`p.${n}`] = this.params[n];
      feeds[`m.${n}`] = this.m[n];
      feeds[`v.${n}`] = this.v[n];
    }
    return feeds;
  }

  private adopt(exe: Executable, outs: NDArray[]): Record<string, NDArray> {
    const byName = Object.fromEntries(exe.outputNames.map((n, i) => [n, outs[i]]));
    for (const n of this.paramNames) {
      this.params[n] = byName[`new_p.${n}`];
      this.m[n] = byName[`new_m.${n}`];
      this.v[n] = byName[`new_v.${n}`];
    }
    this.t += 1;
    return byName;
  }

  /**
   * One optimizer step with learning rate `lr`: on one batch, or (with gradient accumulation) on
   * `gradAccumSteps` micro-batches. Returns the (mean) loss before the update.
   */
  async step(batch: Batch | Batch[], lr: number): Promise<{ loss: number; gradNorm?: number }> {
    const batches = Array.isArray(batch) ? batch : [batch];
    if (batches.length !== this.gradAccumSteps) {
      throw new Error(
        `TrainStep.step: got ${batches.length} micro-batches, configured for gradAccumSteps = ${this.gradAccumSteps}`,
      );
    }
    const feeds = this.stateFeeds();
    feeds['opt.lr'] = NDArray.scalar(lr);
    if (this.fused) {
      const byName = this.adopt(this.fused, await this.fused.run({ ...feeds, ...batches[0] }));
      return { loss: byName.loss.item(), gradNorm: byName.grad_norm?.item() };
    }
    const gradExe = this.gradExe!,
      updateExe = this.updateExe!;
    const pFeeds = Object.fromEntries(this.paramNames.map((n) => [`p.${n}`, this.params[n]]));
    const acc: Record<string, NDArray> = {};
    let loss = 0;
    for (const b of batches) {
      const outs = await gradExe.run({ ...pFeeds, ...b });
      gradExe.outputNames.forEach((name, i) => {
        if (name === 'loss') {
          loss += outs[i].item();
          return;
        }
        const prev = acc[name];
        if (!prev) acc[name] = outs[i];
        else {
          const a = prev.data,
            o = outs[i].data;
          for (let j = 0; j < a.length; j++) a[j] += o[j];
        }
      });
    }
    const K = batches.length;
    for (const a of Object.values(acc)) for (let j = 0; j < a.data.length; j++) a.data[j] /= K;
    const byName = this.adopt(updateExe, await updateExe.run({ ...feeds, ...acc }));
    return { loss: loss / K, gradNorm: byName.grad_norm?.item() };
  }
}
