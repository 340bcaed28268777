/**
 * `diffuse distill TEACHER --steps-to K --out DIR [--method progressive|consistency]`: distillation of a trained
 * model folder into a student that samples in K steps:
 *  - progressive (default; src/training/distill.ts): `diffuse sample DIR --scheduler edm-euler --steps K`;
 *  - consistency (src/training/consistency_distill.ts): a consistency model whose folder's own sampler
 *    (CMStochasticIterativeScheduler) runs it with `diffuse sample DIR --steps K` for any K <= --grid-steps.
 * The data is the teacher's training data (its diffuse.json) unless --data names another.
 */
import { loadPipelineFolder, saveModelFolder, writeRunInfo, type LoadedModel } from '../folders/index.ts';
import type { NDArray } from '../engine/index.ts';
import { openDataSource } from '../data/data_source.ts';
import { progressiveDistill } from '../training/distill.ts';
import { consistencyDistill, type ConsistencyMetric } from '../training/consistency_distill.ts';

/** The distillation methods of `diffuse distill --method`. */
export const DISTILL_METHODS = ['progressive', 'consistency'] as const;

export interface DistillCliOptions {
  stepsTo: number;
  out: string;
  data?: string;
  startSteps?: number;
  iters?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  quiet?: boolean;
  /** progressive (default) or consistency. */
  method?: string;
  /** Consistency distillation: N, the points of the Karras grid (default 18). */
  gridSteps?: number;
  /** Consistency distillation: mu, the decay of the target network (default 0.95). */
  targetDecay?: number;
  /** Consistency distillation: the distance, l2 or pseudo-huber. */
  metric?: string;
  /** Consistency distillation: the teacher's ODE step, heun or euler. */
  solver?: string;
  /** Consistency distillation: an earlier student folder to continue from. */
  init?: string;
}

export async function distillCommand(teacherDir: string, o: DistillCliOptions): Promise<void> {
  const teacher = loadPipelineFolder(teacherDir);
  const spec = o.data ?? teacher.info?.data.spec;
  if (!spec)
    throw new Error(
      `distill ${teacherDir}: the folder does not say which data it was trained on (no diffuse.json); pass --data`,
    );
  const data = openDataSource(spec, { batchSize: o.batchSize ?? 256, seed: o.seed ?? 0 });
  const log = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  const t0 = performance.now();
  const method = o.method ?? 'progressive';
  if (!(DISTILL_METHODS as readonly string[]).includes(method))
    throw new Error(`--method ${method}: allowed values: ${DISTILL_METHODS.join(', ')}`);
  if (method === 'consistency') {
    const N = o.gridSteps ?? 18;
    if (!(Number.isInteger(o.stepsTo) && o.stepsTo >= 1 && o.stepsTo <= N))
      throw new Error(`--steps-to ${o.stepsTo}: must be an integer in 1..--grid-steps (${N})`);
    const iters = o.iters ?? CONSISTENCY_DEFAULTS.iterations;
    let lastLog = 0;
    const init = o.init === undefined ? undefined : studentToContinue(o.init, teacher, N);
    const r = await consistencyDistill({
      init,
      teacher,
      data,
      gridSteps: N,
      iterations: iters,
      batchSize: o.batchSize,
      lr: o.lr ?? CONSISTENCY_DEFAULTS.lr,
      seed: o.seed,
      targetDecay: o.targetDecay,
      metric: o.metric as ConsistencyMetric | undefined,
      solver: o.solver as 'heun' | 'euler' | undefined,
      // a progress line at most every 20 s (and at the end): toy runs do thousands of iterations a minute,
      // an image network a few per second
      onLog: ({ iteration, loss, seconds }) => {
        if (seconds - lastLog < 20 && iteration < iters) return;
        lastLog = seconds;
        log(`iteration ${iteration}/${iters}: loss ${loss.toExponential(3)} (${seconds.toFixed(1)} s)`);
      },
      logEvery: 10,
    });
    saveModelFolder(
      o.out,
      teacher.model.toConfig() as unknown as Record<string, unknown>,
      r.weights,
      r.schedulerConfig,
    );
    if (teacher.info) writeRunInfo(o.out, { ...teacher.info, step: teacher.info.step });
    log(
      `done: consistency student in ${o.out} (${((performance.now() - t0) / 1000).toFixed(1)} s); sample it with: diffuse sample ${o.out} --steps ${o.stepsTo}`,
    );
    return;
  }
  const r = await progressiveDistill({
    teacher,
    data,
    stepsTo: o.stepsTo,
    startSteps: o.startSteps,
    iterations: o.iters ?? 600,
    batchSize: o.batchSize,
    lr: o.lr ?? 1e-3,
    seed: o.seed,
    onRound: ({ steps, seconds, loss }) =>
      log(`round: ${2 * steps} -> ${steps} steps, ${seconds.toFixed(1)} s, final loss ${loss.toExponential(3)}`),
  });
  saveModelFolder(o.out, teacher.model.toConfig() as unknown as Record<string, unknown>, r.weights, r.schedulerConfig);
  if (teacher.info) writeRunInfo(o.out, { ...teacher.info, step: teacher.info.step });
  log(
    `done: student for ${o.stepsTo} steps in ${o.out} (${((performance.now() - t0) / 1000).toFixed(1)} s); sample it with: diffuse sample ${o.out} --scheduler edm-euler --steps ${o.stepsTo}`,
  );
}

/**
 * The weights of an earlier consistency student to continue (`--init DIR`), refused in one line when the folder is
 * not a consistency student of this grid or its network differs from the teacher's.
 */
function studentToContinue(dir: string, teacher: LoadedModel, N: number): Record<string, NDArray> {
  const s = loadPipelineFolder(dir);
  const cls = s.schedulerConfig._class_name;
  if (cls !== 'CMStochasticIterativeScheduler')
    throw new Error(
      `--init ${dir}: not a consistency student (its scheduler is ${String(cls)}); pass a folder written by distill --method consistency`,
    );
  if (s.schedulerConfig.num_train_timesteps !== N)
    throw new Error(
      `--init ${dir}: its grid has ${String(s.schedulerConfig.num_train_timesteps)} points, not --grid-steps ${N}; pass --grid-steps ${String(s.schedulerConfig.num_train_timesteps)}`,
    );
  for (const [k, v] of Object.entries(teacher.weights)) {
    const w = s.weights[k];
    if (!w || w.shape.join() !== v.shape.join())
      throw new Error(
        `--init ${dir}: its network differs from the teacher's (parameter ${k}); continue a student of this teacher`,
      );
  }
  return s.weights;
}

/** CLI defaults of consistency distillation (per run, not per round as progressive's). */
export const CONSISTENCY_DEFAULTS = { iterations: 8000, lr: 8e-3 } as const;
