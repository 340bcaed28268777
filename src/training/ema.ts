/**
 * Exponential moving average of the weights (Polyak averaging), with the warm-up of diffusers'
 * EMAModel: decay_t = min(maxDecay, 1 - (1 + t / invGamma)^(-power)) (power 2/3 suits runs of
 * ~100k steps, 3/4 shorter ones). Kept on the host: one fused pass over each tensor per step.
 *
 * @example
 *   const ema = new Ema(params, { maxDecay: 0.999 });
 *   ema.update(newParams);   // after each optimizer step
 *   ema.params;              // the averaged weights used for sampling
 */
import type { NDArray } from '../engine/index.ts';

export interface EmaConfig {
  maxDecay?: number;
  minDecay?: number;
  invGamma?: number;
  power?: number;
  /** Without warm-up the decay is maxDecay from the first step. */
  warmup?: boolean;
}

export class Ema {
  params: Record<string, NDArray>;
  /** Updates applied so far. */
  step = 0;
  readonly config: Required<EmaConfig>;

  constructor(params: Record<string, NDArray>, config: EmaConfig = {}) {
    this.config = { maxDecay: 0.9999, minDecay: 0, invGamma: 1, power: 2 / 3, warmup: true, ...config };
    const { maxDecay, minDecay } = this.config;
    if (!(maxDecay >= 0 && maxDecay < 1)) throw new Error(`EMA: max decay must be in [0, 1), got ${maxDecay}`);
    if (!(minDecay >= 0 && minDecay <= maxDecay))
      throw new Error(`EMA: min decay must be in [0, max decay], got ${minDecay}`);
    this.params = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.clone()]));
  }

  /** The decay used for update number `step` (1-based); the first update copies the weights. */
  decay(step: number): number {
    const { maxDecay, minDecay, invGamma, power, warmup } = this.config;
    if (!warmup) return maxDecay;
    const d = 1 - (1 + Math.max(0, step - 1) / invGamma) ** -power;
    return Math.max(minDecay, Math.min(maxDecay, d));
  }

  update(params: Record<string, NDArray>): void {
    this.step += 1;
    const d = this.decay(this.step);
    for (const [k, e] of Object.entries(this.params)) {
      const p = params[k];
      if (!p) throw new Error(`EMA: parameter '${k}' missing from the update`);
      const ed = e.data,
        pd = p.data;
      for (let i = 0; i < ed.length; i++) ed[i] = d * ed[i] + (1 - d) * pd[i];
    }
  }
}
