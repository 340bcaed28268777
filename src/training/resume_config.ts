/**
 * Resuming a run with the configuration it was started with. A checkpoint stores the training
 * configuration (trainer_state.json `trainConfig`) and the data description; continuing with a
 * setting that changes what is trained (data, model, prediction type, noise schedule, batch size,
 * EMA, learning rate, ...) would silently produce a model that neither run describes, so a
 * difference is an error naming the setting (and its CLI flag), the stored and the new value.
 *
 * Some settings may be changed on purpose, named in `override` (CLI `--override lr,steps`): the
 * learning rate and its warm-up, weight decay, gradient clipping, and the step count (upward: the
 * cosine schedule is then stretched to the new end). A step count below the checkpoint's step is
 * never accepted (the run is already past it).
 *
 * @example
 *   checkResumeConfig(stored.trainConfig, config, { step: 100, where: 'runs/a/checkpoint-100', override: ['lr'] });
 */
import type { TrainConfig } from './trainer.ts';

/** A training setting compared on resume. */
export interface ResumeKey {
  /** Dotted path in TrainConfig. */
  key: string;
  /** The CLI flag that sets it ('' when only the library sets it). */
  flag: string;
  /** May be changed with an explicit override. */
  overridable: boolean;
}

/** The settings compared on resume (everything in TrainConfig but bookkeeping: checkpoint interval, keep-last, non-finite policy). */
export const RESUME_KEYS: readonly ResumeKey[] = [
  { key: 'steps', flag: '--steps', overridable: true },
  { key: 'batchSize', flag: '--batch-size', overridable: false },
  { key: 'gradAccumSteps', flag: '--grad-accum', overridable: false },
  { key: 'lr', flag: '--lr', overridable: true },
  { key: 'warmupSteps', flag: '--warmup', overridable: true },
  { key: 'minLr', flag: '', overridable: true },
  { key: 'weightDecay', flag: '--weight-decay', overridable: true },
  { key: 'beta1', flag: '', overridable: false },
  { key: 'beta2', flag: '', overridable: false },
  { key: 'maxGradNorm', flag: '--max-grad-norm', overridable: true },
  { key: 'emaDecay', flag: '--ema / --no-ema', overridable: false },
  { key: 'emaPower', flag: '', overridable: false },
  { key: 'objective.predictionType', flag: '--prediction-type', overridable: false },
  { key: 'objective.snrGamma', flag: '--snr-gamma', overridable: false },
  { key: 'objective.varianceType', flag: '--learned-variance', overridable: false },
  { key: 'objective.formulation', flag: '--objective', overridable: false },
  { key: 'objective.edm', flag: '--sigma-data / --p-mean / --p-std', overridable: false },
  { key: 'objective.vlbWeight', flag: '', overridable: false },
  { key: 'objective.decoder', flag: '', overridable: false },
  { key: 'noiseSchedule', flag: '--beta-schedule / --train-timesteps', overridable: false },
  { key: 'labelDropout', flag: '--label-dropout', overridable: false },
  { key: 'seed', flag: '--seed', overridable: false },
];

function get(obj: unknown, dotted: string): unknown {
  let v = obj;
  for (const k of dotted.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** JSON with sorted keys, `undefined`/`null`/'fixed' variance treated alike where diffusers does. */
function canon(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function same(key: string, a: unknown, b: unknown): boolean {
  if (key === 'objective.varianceType') return (a ?? 'fixed') === (b ?? 'fixed');
  if (key === 'objective.formulation') return (a ?? 'vp') === (b ?? 'vp');
  return canon(a) === canon(b);
}

/** Normalise an override name: '--lr', 'lr', 'batch-size', 'batchSize' all name a ResumeKey. */
export function resumeKeyFor(name: string): ResumeKey | undefined {
  const n = name.trim().replace(/^-+/, '').toLowerCase();
  return RESUME_KEYS.find(
    (k) =>
      k.key.toLowerCase() === n ||
      k.key.split('.').pop()!.toLowerCase() === n ||
      k.flag.split(' / ').some((f) => f.replace(/^-+/, '') === n) ||
      k.key.toLowerCase().replace(/[a-z]+\./, '') === n.replace(/-/g, ''),
  );
}

export interface ResumeDifference {
  key: ResumeKey;
  stored: unknown;
  now: unknown;
}

/** The compared settings that differ between the stored and the new config. @example diffTrainConfig(stored, now).map((d) => d.key.flag) */
export function diffTrainConfig(
  stored: Partial<TrainConfig> | Record<string, unknown>,
  now: TrainConfig,
): ResumeDifference[] {
  return RESUME_KEYS.filter((k) => !same(k.key, get(stored, k.key), get(now, k.key))).map((key) => ({
    key,
    stored: get(stored, key.key),
    now: get(now, key.key),
  }));
}

export interface ResumeCheckOptions {
  /** The checkpoint's step. */
  step: number;
  /** The checkpoint (for messages). */
  where: string;
  /** Settings the caller changes on purpose (names as accepted by resumeKeyFor). */
  override?: readonly string[];
}

const show = (v: unknown) => (v === undefined || v === null ? 'none' : typeof v === 'object' ? canon(v) : String(v));

/**
 * Throw one line naming the first setting that differs and may not be changed (see the file comment).
 * @example checkResumeConfig(state.trainConfig, config, { step: 100, where: 'runs/a/checkpoint-100' })
 */
export function checkResumeConfig(
  stored: Partial<TrainConfig> | Record<string, unknown> | undefined,
  now: TrainConfig,
  o: ResumeCheckOptions,
): void {
  const over = new Set<ResumeKey>();
  for (const name of o.override ?? []) {
    const k = resumeKeyFor(name);
    if (!k)
      throw new Error(
        `--override ${name}: unknown setting (allowed: ${RESUME_KEYS.filter((r) => r.overridable)
          .map((r) => r.flag || r.key)
          .join(', ')})`,
      );
    if (!k.overridable)
      throw new Error(
        `--override ${name}: ${k.flag || k.key} changes what is trained and cannot be changed on resume (start a new run with another --out)`,
      );
    over.add(k);
  }
  if (now.steps < o.step) {
    throw new Error(
      `--steps ${now.steps}: ${o.where} is already at step ${o.step}; resuming can only continue to --steps >= ${o.step} (nothing was changed)`,
    );
  }
  if (stored === undefined) return; // an old checkpoint without the stored config: nothing to compare
  for (const d of diffTrainConfig(stored, now)) {
    if (over.has(d.key)) continue;
    const name = d.key.flag || d.key.key;
    let key = d.key.key,
      a = d.stored,
      b = d.now;
    if (key === 'objective.formulation') {
      a ??= 'vp';
      b ??= 'vp';
    }
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a)) {
      // name the first differing entry of an object setting (e.g. noiseSchedule.beta_schedule)
      const ao = a as Record<string, unknown>,
        bo = b as Record<string, unknown>;
      const sub = [...new Set([...Object.keys(ao), ...Object.keys(bo)])]
        .sort()
        .find((k) => canon(ao[k]) !== canon(bo[k]));
      if (sub !== undefined) {
        key = `${key}.${sub}`;
        a = ao[sub];
        b = bo[sub];
      }
    }
    const how = d.key.overridable
      ? `pass --override ${d.key.flag.replace(/^--/, '') || d.key.key} to change it on purpose`
      : 'it changes what is trained; use the same value or start a new run with another --out';
    throw new Error(
      `${name}: ${o.where} was trained with ${key} = ${show(a)}, this run asks for ${show(b)}; ${how} (nothing was changed)`,
    );
  }
}
