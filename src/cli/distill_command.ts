/**
 * `diffuse distill TEACHER --steps-to K --out DIR`: progressive distillation (src/training/distill.ts) of a trained
 * model folder into a student that `diffuse sample DIR --scheduler edm-euler --steps K` runs in K steps.
 * The data is the teacher's training data (its diffuse.json) unless --data names another.
 */
import { loadPipelineFolder, saveModelFolder, writeRunInfo } from '../folders/index.ts';
import { openDataSource } from '../data/data_source.ts';
import { progressiveDistill } from '../training/distill.ts';

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
  const r = await progressiveDistill({
    teacher,
    data,
    stepsTo: o.stepsTo,
    startSteps: o.startSteps,
    iterations: o.iters,
    batchSize: o.batchSize,
    lr: o.lr,
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
