/**
 * `diffuse train --resume`: the folder must hold a run (a mistyped path is an error, not a fresh
 * start), and flags the user did not type take the run's stored values (so resuming without
 * repeating `--lr 5e-4` does not silently switch to the default learning rate). Flags typed with a
 * different value are compared by the trainer (training/resume_config.ts): an error naming the
 * flag unless `--override` names it.
 *
 * @example
 *   checkResumeFolder('runs/a');
 *   applyStoredRunSettings(options, new Set(['data', 'out', 'resume']));
 */
import fs from 'node:fs';
import path from 'node:path';

const CHECKPOINT_RE = /^checkpoint-(\d+)$/;
const TRAINER_STATE = 'trainer_state.json';

/** The newest complete checkpoint folder of `out` (one with trainer_state.json), or null. */
export function newestCheckpointDir(out: string): string | null {
  let best = -1;
  let names: string[] = [];
  try {
    names = fs.readdirSync(out);
  } catch {
    return null;
  }
  for (const n of names) {
    const m = CHECKPOINT_RE.exec(n);
    if (m && Number(m[1]) > best && fs.existsSync(path.join(out, n, TRAINER_STATE))) best = Number(m[1]);
  }
  return best < 0 ? null : path.join(out, `checkpoint-${best}`);
}

/**
 * --resume needs an existing folder with something of a run in it; a missing or empty folder is an
 * error naming it (a typo would otherwise start a new run from step 0).
 * @example checkResumeFolder('runs/moonz') // throws: --out runs/moonz: does not exist, nothing to resume ...
 */
export function checkResumeFolder(out: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(out);
  } catch {
    throw new Error(
      `--resume: --out ${out} does not exist, so there is nothing to resume (check the path, or drop --resume to start a new run)`,
    );
  }
  if (!st.isDirectory()) throw new Error(`--resume: --out ${out} is a file, not a run folder`);
  if (fs.readdirSync(out).length === 0) {
    throw new Error(
      `--resume: --out ${out} is empty, so there is nothing to resume (check the path, or drop --resume to start a new run)`,
    );
  }
}

/** Options of `diffuse train` that a stored run fills when the user did not type them. */
interface TrainFlags {
  steps: number;
  batchSize: number;
  lr: number;
  warmup?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  gradAccum?: number;
  ema?: number;
  noEma?: boolean;
  predictionType?: string;
  snrGamma?: number;
  learnedVariance?: boolean;
  objective?: string;
  sigmaData?: number;
  pMean?: number;
  pStd?: number;
  betaSchedule?: string;
  trainTimesteps?: number;
  labelDropout?: number;
  seed: number;
  checkpointEvery?: number;
  keepLast?: number;
}

/**
 * Fill the flags the user did not type (`explicit` holds the commander names of those typed) from
 * the newest checkpoint's stored training configuration. Returns the checkpoint used, or null.
 * @example applyStoredRunSettings(o, explicitFlags)
 */
export function applyStoredRunSettings(o: TrainFlags, explicit: ReadonlySet<string>, out: string): string | null {
  const dir = newestCheckpointDir(out);
  if (!dir) return null;
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, TRAINER_STATE), 'utf8')) as Record<string, unknown>;
  } catch {
    return null; // the trainer reports an unreadable checkpoint
  }
  const c = state.trainConfig as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return null;
  const obj = (c.objective ?? {}) as Record<string, unknown>;
  const ns = (c.noiseSchedule ?? {}) as Record<string, unknown>;
  const set = <K extends keyof TrainFlags>(flag: K, v: unknown) => {
    if (!explicit.has(flag) && v !== undefined) (o as unknown as Record<string, unknown>)[flag] = v;
  };
  set('steps', c.steps);
  set('batchSize', c.batchSize);
  set('lr', c.lr);
  set('warmup', c.warmupSteps);
  set('weightDecay', c.weightDecay);
  set('maxGradNorm', c.maxGradNorm ?? undefined);
  set('gradAccum', c.gradAccumSteps);
  if (!explicit.has('ema') && !explicit.has('noEma')) {
    if (c.emaDecay === null) {
      o.noEma = true;
      o.ema = undefined;
    } else if (typeof c.emaDecay === 'number') {
      o.noEma = false;
      o.ema = c.emaDecay;
    }
  }
  set('predictionType', obj.predictionType);
  set('snrGamma', obj.snrGamma ?? undefined);
  if (!explicit.has('learnedVariance')) o.learnedVariance = obj.varianceType === 'learned_range';
  if (!explicit.has('objective')) o.objective = obj.formulation === 'edm' ? 'edm' : undefined;
  const edm = obj.edm as Record<string, unknown> | undefined;
  set('sigmaData', edm?.sigmaData ?? undefined);
  set('pMean', edm?.pMean ?? undefined);
  set('pStd', edm?.pStd ?? undefined);
  set('betaSchedule', ns.beta_schedule);
  set('trainTimesteps', ns.num_train_timesteps);
  set('labelDropout', c.labelDropout);
  set('seed', c.seed);
  set('checkpointEvery', c.checkpointEvery);
  set('keepLast', c.keepLast);
  return dir;
}
