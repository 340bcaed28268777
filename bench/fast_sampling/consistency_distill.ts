/**
 * Consistency distillation beside progressive distillation on the toy sets (issue 18), with the same EDM teacher
 * as bench/fast_sampling/distill.ts (mlp-2d, 4000 steps, sigma_data 0.5, seed 0): the consistency student is
 * trained once and sampled with the multistep consistency sampler at K = 1, 2, 4, 8 (its folder's
 * CMStochasticIterativeScheduler); the progressive chain 64 -> 1 is run on the same teacher (rounds of --pd-iters).
 * MMD ratio to the data floor (2000 samples, sampling seed 7) and distillation wall seconds.
 *
 *   nice npx tsx bench/fast_sampling/consistency_distill.ts --out docs/fast-sampling
 *   nice npx tsx bench/fast_sampling/consistency_distill.ts --data moons --no-progressive --metric pseudo-huber   # one setting
 *
 * Flags: --data (sets), --iters (consistency optimizer steps), --lr, --grid-steps, --target-decay, --metric,
 * --solver, --ema-decay, --pd-iters (progressive steps per round), --no-progressive, --reuse-teacher, --tag.
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainCommand } from '../../src/cli/train_command.ts';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';
import { saveModelFolder, writeRunInfo } from '../../src/folders/index.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { progressiveDistill } from '../../src/training/distill.ts';
import { consistencyDistill, type ConsistencyMetric } from '../../src/training/consistency_distill.ts';
import { toy2d } from '../../src/data/toy2d.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { Philox } from '../../src/engine/index.ts';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : d;
};
const flag = (k: string) => process.argv.includes(k);
const ITERS = Number(arg('--iters', '8000'));
const LR = Number(arg('--lr', '8e-3'));
const N = Number(arg('--grid-steps', '18'));
const MU = Number(arg('--target-decay', '0.95'));
const EMA = Number(arg('--ema-decay', '0.999'));
const METRIC = arg('--metric', 'l2') as ConsistencyMetric;
const SOLVER = arg('--solver', 'heun') as 'heun' | 'euler';
const PD_ITERS = Number(arg('--pd-iters', '1000'));
const OUT = arg('--out', 'tmp/fast-sampling');
const TAG = arg('--tag', '');
const SETS = arg('--data', 'moons,gmm,8gaussians').split(',');
const KS = [1, 2, 4, 8];
const rows: Record<string, unknown>[] = [];
for (const data of SETS) {
  const ds = toy2d(data);
  const ref = ds.sample(2000, new Philox(101).fold(0x5eed));
  const floors = [202, 303].map((s) => ds.sample(2000, new Philox(s).fold(0x5eed)));
  const score = async (dir: string, scheduler: string | undefined, steps: number) =>
    mmdRatio(await sampleLoaded(loadTrainedModel(dir), { scheduler, steps, n: 2000, seed: 7 }), ref, floors).ratio;
  const runs = path.join('tmp', 'fast-sampling-runs');
  const tdir = path.join(runs, `distill-teacher-${data}`);
  const row: Record<string, unknown> = { data };
  if (!(flag('--reuse-teacher') && fs.existsSync(path.join(tdir, 'diffuse.json')))) {
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
    row.teacherTrainSeconds = Math.round((performance.now() - t0) / 1000);
  }
  const teacher = loadTrainedModel(tdir);
  row.teacher64 = await score(tdir, 'edm-euler', 64);
  for (const k of KS) row[`teacherDpmpp${k}`] = await score(tdir, 'dpmsolver++', k);

  // consistency distillation: one student for every K
  const cd = await consistencyDistill({
    teacher,
    data: openDataSource(data, { batchSize: 256, seed: 1 }),
    gridSteps: N,
    iterations: ITERS,
    lr: LR,
    targetDecay: MU,
    emaDecay: EMA,
    metric: METRIC,
    solver: SOLVER,
  });
  const cdir = path.join(runs, `cd-student-${data}${TAG}`);
  saveModelFolder(cdir, teacher.model.toConfig() as unknown as Record<string, unknown>, cd.weights, cd.schedulerConfig);
  if (teacher.info) writeRunInfo(cdir, teacher.info);
  row.cd = { iters: ITERS, lr: LR, gridSteps: N, targetDecay: MU, emaDecay: EMA, metric: METRIC, solver: SOLVER };
  row.cdSeconds = Math.round(cd.seconds);
  row.cdFinalLoss = cd.losses[cd.losses.length - 1];
  for (const k of KS) row[`cdStudent${k}`] = await score(cdir, undefined, k);
  console.log(JSON.stringify(row));

  if (!flag('--no-progressive')) {
    let cumulative = 0;
    const students: [number, string, number][] = [];
    await progressiveDistill({
      teacher,
      data: openDataSource(data, { batchSize: 256, seed: 1 }),
      stepsTo: 1,
      startSteps: 32,
      iterations: PD_ITERS,
      onRound: ({ steps, seconds, weights, schedulerConfig }) => {
        cumulative += seconds;
        const dir = path.join(runs, `distill-student-${data}-${steps}`);
        saveModelFolder(dir, teacher.model.toConfig() as unknown as Record<string, unknown>, weights, schedulerConfig);
        if (teacher.info) writeRunInfo(dir, teacher.info);
        students.push([steps, dir, cumulative]);
      },
    });
    for (const [k, dir, secs] of students)
      if (k <= 8) {
        row[`pdStudent${k}`] = await score(dir, 'edm-euler', k);
        row[`pdSecondsTo${k}`] = Math.round(secs);
      }
    console.log(JSON.stringify(row));
  }
  rows.push(row);
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
fs.mkdirSync(OUT, { recursive: true });
const file = path.join(OUT, `consistency_distill${TAG}.json`);
fs.writeFileSync(
  file,
  `${JSON.stringify({ command: `nice npx tsx ${[path.relative(process.cwd(), process.argv[1]), ...process.argv.slice(2)].join(' ')}`, date: new Date().toISOString(), load, rows }, null, 2)}\n`,
);
console.log('wrote', file);
