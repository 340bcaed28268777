/**
 * Progressive distillation on the toy sets (issue 18): an EDM teacher (mlp-2d, 4000 steps, sigma_data 0.5) is
 * distilled from 64 down to 1 step (rounds of --iters optimizer steps); every round's student is scored with its own
 * K-step grid (edm-euler K) beside the teacher at K steps (edm-euler and DPM-Solver++ through the formulation adapter)
 * and at 64 steps.
 *
 *   nice npx tsx bench/fast_sampling/distill.ts --iters 1000 --out docs/fast-sampling
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainCommand } from '../../src/cli/train_command.ts';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';
import { saveModelFolder, writeRunInfo } from '../../src/folders/index.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { progressiveDistill } from '../../src/training/distill.ts';
import { toy2d } from '../../src/data/toy2d.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { Philox } from '../../src/engine/index.ts';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : d;
};
const ITERS = Number(arg('--iters', '1000'));
const OUT = arg('--out', 'tmp/fast-sampling');
const SETS = arg('--data', 'moons,gmm,8gaussians').split(',');
const rows: Record<string, unknown>[] = [];
for (const data of SETS) {
  const ds = toy2d(data);
  const ref = ds.sample(2000, new Philox(101).fold(0x5eed));
  const floors = [202, 303].map((s) => ds.sample(2000, new Philox(s).fold(0x5eed)));
  const score = async (dir: string, scheduler: string, steps: number) =>
    mmdRatio(await sampleLoaded(loadTrainedModel(dir), { scheduler, steps, n: 2000, seed: 7 }), ref, floors).ratio;
  const tdir = path.join('tmp', 'fast-sampling-runs', `distill-teacher-${data}`);
  fs.rmSync(tdir, { recursive: true, force: true });
  const t0 = performance.now();
  await trainCommand({
    data,
    model: 'mlp-2d',
    steps: 4000,
    batchSize: 256,
    lr: 2e-3,
    out: tdir,
    seed: 0,
    checkpointEvery: 4000,
    quiet: true,
    objective: 'edm',
  });
  const teacherSeconds = (performance.now() - t0) / 1000;
  const teacher = loadTrainedModel(tdir);
  const row: Record<string, unknown> = {
    data,
    teacherTrainSeconds: Math.round(teacherSeconds),
    iterationsPerRound: ITERS,
    teacher64: await score(tdir, 'edm-euler', 64),
  };
  for (const k of [1, 2, 4, 8]) {
    row[`teacherEdmEuler${k}`] = await score(tdir, 'edm-euler', k);
    row[`teacherDpmpp${k}`] = await score(tdir, 'dpmsolver++', k);
  }
  let cumulative = 0;
  const students: [number, string, number][] = [];
  await progressiveDistill({
    teacher,
    data: openDataSource(data, { batchSize: 256, seed: 1 }),
    stepsTo: 1,
    startSteps: 32,
    iterations: ITERS,
    onRound: ({ steps, seconds, weights, schedulerConfig }) => {
      cumulative += seconds;
      const dir = path.join('tmp', 'fast-sampling-runs', `distill-student-${data}-${steps}`);
      saveModelFolder(dir, teacher.model.toConfig() as unknown as Record<string, unknown>, weights, schedulerConfig);
      if (teacher.info) writeRunInfo(dir, teacher.info);
      students.push([steps, dir, cumulative]);
    },
  });
  for (const [k, dir, secs] of students)
    if (k <= 8) {
      row[`student${k}`] = await score(dir, 'edm-euler', k);
      row[`distillSecondsTo${k}`] = Math.round(secs);
    }
  rows.push(row);
  console.log(JSON.stringify(row));
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(
  path.join(OUT, 'distill.json'),
  `${JSON.stringify({ command: `nice npx tsx bench/fast_sampling/distill.ts --iters ${ITERS} --data ${SETS.join(',')} --out ${OUT}`, date: new Date().toISOString(), load, rows }, null, 2)}\n`,
);
console.log('wrote', path.join(OUT, 'distill.json'));
