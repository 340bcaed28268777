/**
 * Learning-rate schedules as pure functions of the step (0-based): linear warm-up then cosine
 * decay to `minLr` (Loshchilov & Hutter 2017, SGDR eq. 5 without restarts), or constant.
 *
 * @example
 *   const lr = warmupCosine({ lr: 1e-3, warmupSteps: 100, totalSteps: 2000 });
 *   lr(0);    // 1e-5 (1/100 of the peak)
 *   lr(1999); // close to minLr
 */
export interface LrScheduleConfig {
  lr: number;
  warmupSteps?: number;
  totalSteps: number;
  minLr?: number;
  kind?: 'cosine' | 'constant';
}

export function warmupCosine(c: LrScheduleConfig): (step: number) => number {
  const { lr, warmupSteps = 0, totalSteps, minLr = 0, kind = 'cosine' } = c;
  if (!(lr > 0)) throw new Error(`lr schedule: lr must be > 0, got ${lr}`);
  if (!(Number.isInteger(totalSteps) && totalSteps > 0))
    throw new Error(`lr schedule: total steps must be a positive integer, got ${totalSteps}`);
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0))
    throw new Error(`lr schedule: warmup steps must be a non-negative integer, got ${warmupSteps}`);
  if (!(minLr >= 0 && minLr <= lr)) throw new Error(`lr schedule: min lr must be in [0, lr], got ${minLr}`);
  if (kind !== 'cosine' && kind !== 'constant')
    throw new Error(`lr schedule: kind '${kind}' is not one of cosine, constant`);
  return (step: number) => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    if (kind === 'constant') return lr;
    const span = Math.max(1, totalSteps - warmupSteps);
    const progress = Math.min(1, (step - warmupSteps) / span);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}
