/**
 * AdamW as traced ops, so the whole optimizer step is part of the compiled train-step graph
 * (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 2, with
 * the bias correction of Kingma & Ba 2015, Algorithm 1 — the semantics of torch.optim.AdamW).
 *
 *   p <- p (1 - lr wd)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * `t` (the step count, starting at 1) and `lr` are graph inputs, so one compiled graph serves
 * every step and any learning-rate schedule.
 *
 * @example
 *   const { p: p1, m: m1, v: v1 } = adamwUpdate(p, g, m, v, t, lr, { weightDecay: 0.01 });
 */
import { add, div, exp, mul, sqrt, sub, type Value } from '../engine/index.ts';

export interface AdamWConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export const ADAMW_DEFAULTS: Required<AdamWConfig> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export function validateAdamW(cfg: AdamWConfig): Required<AdamWConfig> {
  const c = { ...ADAMW_DEFAULTS, ...cfg };
  for (const k of ['beta1', 'beta2'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new Error(`AdamW: ${k} must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${c.eps}`);
  if (!(c.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${c.weightDecay}`);
  return c;
}

/** Bias corrections 1 - b^t for a traced step count t (t >= 1), as exp(t ln b). */
export function biasCorrection(beta: number, t: Value): Value {
  if (beta === 0) return sub(1, mul(t, 0));
  return sub(1, exp(mul(t, Math.log(beta))));
}

/** One AdamW update of one parameter tensor. */
export function adamwUpdate(
  p: Value,
  g: Value,
  m: Value,
  v: Value,
  t: Value,
  lr: Value,
  cfg: AdamWConfig = {},
): { p: Value; m: Value; v: Value } {
  const { beta1, beta2, eps, weightDecay } = validateAdamW(cfg);
  const decayed = weightDecay === 0 ? p : mul(p, sub(1, mul(lr, weightDecay)));
  const m1 = add(mul(m, beta1), mul(g, 1 - beta1));
  const v1 = add(mul(v, beta2), mul(mul(g, g), 1 - beta2));
  const stepSize = div(lr, biasCorrection(beta1, t));
  const denom = add(div(sqrt(v1), sqrt(biasCorrection(beta2, t))), eps);
  return { p: sub(decayed, mul(stepSize, div(m1, denom))), m: m1, v: v1 };
}
