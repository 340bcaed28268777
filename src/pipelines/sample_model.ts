/**
 * Sample a trained model folder and write the result: a PNG grid (images), a scatter PNG (2D
 * data), a CSV (low-dimensional data, standardisation undone) or a GIF of the denoising
 * trajectory. Used by `diffuse sample` and by the sample previews during training.
 *
 * @example
 *   await sampleModelFolder('runs/mnist', { scheduler: 'DDIMScheduler', steps: 50, n: 64, seed: 0, out: 'digits.png' });
 */
import fs from 'node:fs';
import path from 'node:path';
import { type NDArray, Philox, type RandomGenerator } from '../engine/index.ts';
import { loadPipelineFolder, type LoadedModel, type RunInfo } from '../folders/index.ts';
import { writePng } from '../io/png.ts';
import { writeScatterPng, scatterTrajectoryFrames } from '../io/scatter.ts';
import { writeGif, trajectoryFrames } from '../io/gif.ts';
import { writeCsv } from '../io/csv.ts';
import { generate, type AsyncModelFn } from './generate.ts';
import { toDataUnits } from './data_units.ts';
import { samplingScheduler } from './scheduler_choice.ts';
import { denoiserFor, isClassConditional, modelSampleShape } from './denoiser.ts';
import { adaptModelToScheduler, generateScoreSde } from './formulation.ts';
import { ScoreSdeVeScheduler } from '../samplers/score_sde_ve.ts';
import { checkEtaSupported, checkFiniteWeights, nonFiniteGuard } from './sample_checks.ts';

export { SCHEDULER_ALIASES, samplingScheduler, schedulerWithOverrides } from './scheduler_choice.ts';
// Model folders are read and written by src/folders (shared with training); re-exported for older imports.
export { RUN_INFO_NAME, readRunInfo, writeRunInfo, type LoadedModel, type RunInfo } from '../folders/index.ts';

/**
 * Load a model folder of any layout (pipeline, bare model, diffuse's flat layout, a checkpoint),
 * validated: config keys, parameter names and shapes. Same as folders' loadPipelineFolder.
 * @example const m = loadTrainedModel('runs/mnist');
 */
export function loadTrainedModel(dir: string): LoadedModel {
  return loadPipelineFolder(dir);
}

export interface SampleOptions {
  /** diffusers scheduler class name, or a short alias (ddpm, ddim, dpmsolver++, unipc, euler, heun, ...). */
  scheduler?: string;
  steps: number;
  /** Custom descending timesteps (the scheduler's own units; replaces `steps`, e.g. [12, 8, 3, 0] on a consistency model). */
  timesteps?: readonly number[];
  n: number;
  seed: number;
  classLabel?: number;
  guidance?: number;
  eta?: number;
  /** Output file: .png, .csv or .gif. */
  out?: string;
  /** The random stream (default new Philox(seed)); chunked sampling passes one per chunk. */
  generator?: RandomGenerator;
  /** Index of the first sample (chunked sampling: the class cycle continues across chunks). */
  labelOffset?: number;
  /** The compiled denoiser to reuse (chunked sampling; default: denoiserFor(model, weights)). */
  denoiser?: AsyncModelFn;
}

/** Draw n samples (and, when asked, the trajectory of every step). */
export async function sampleLoaded(m: LoadedModel, o: SampleOptions, trajectory?: NDArray[]): Promise<NDArray> {
  const { model, weights, schedulerConfig, info } = m;
  if (!(Number.isInteger(o.n) && o.n >= 1)) throw new Error(`--n: expected a positive integer, got ${o.n}`);
  if (!(Number.isInteger(o.steps) && o.steps >= 1))
    throw new Error(`--steps: expected a positive integer, got ${o.steps}`);
  const isImage = info ? info.data.kind === 'images' : 'sample_size' in (model.config as object);
  const sched = samplingScheduler(o.scheduler, schedulerConfig, {
    clip_sample: isImage && schedulerConfig.clip_sample !== false,
  });
  checkEtaSupported(sched, o.eta);
  checkFiniteWeights(weights, 'the model weights');
  const cond = isClassConditional(model);
  let labels: Float32Array | undefined;
  if (cond) {
    const numClasses = info?.data.numClasses ?? null;
    const k = o.classLabel;
    if (k !== undefined && (!Number.isInteger(k) || k < 0 || (numClasses !== null && k >= numClasses))) {
      throw new Error(`--class ${k}: expected an integer in 0..${(numClasses ?? 1) - 1}`);
    }
    // Without --class: cycle through the classes.
    labels = Float32Array.from(
      { length: o.n },
      (_, i) => k ?? (numClasses ? (i + (o.labelOffset ?? 0)) % numClasses : 0),
    );
  } else if (o.classLabel !== undefined) {
    throw new Error('--class: this model was trained without classes');
  }
  const w = o.guidance ?? 1;
  if (w !== 1 && (info?.nullClass === null || info?.nullClass === undefined)) {
    throw new Error(
      '--guidance: this model was not trained with label dropout (classifier-free guidance needs --label-dropout > 0 at training)',
    );
  }
  // the model as the scheduler expects it (EDM / VP / score conversions when the formulations differ)
  const modelFn = adaptModelToScheduler(o.denoiser ?? denoiserFor(model, weights), schedulerConfig, sched);
  if (sched instanceof ScoreSdeVeScheduler) {
    if (o.timesteps) throw new Error('--timesteps: not available with ScoreSdeVeScheduler; pass --steps');
    if (w !== 1) throw new Error('--guidance: not available with ScoreSdeVeScheduler (predictor-corrector loop)');
    return generateScoreSde(modelFn, sched, {
      shape: [o.n, ...modelSampleShape(model)],
      steps: o.steps,
      generator: o.generator ?? new Philox(o.seed),
      classLabels: labels,
      onStep: trajectory ? ({ sample }) => trajectory.push(sample) : undefined,
    });
  }
  return generate(modelFn, sched, {
    shape: [o.n, ...modelSampleShape(model)],
    steps: o.steps,
    generator: o.generator ?? new Philox(o.seed),
    classLabels: labels,
    guidanceScale: w,
    nullClass: info?.nullClass ?? undefined,
    eta: o.eta,
    timesteps: o.timesteps,
    onStep: nonFiniteGuard(
      sched,
      o.timesteps?.length ?? o.steps,
      trajectory ? ({ sample }) => trajectory.push(sample) : undefined,
    ),
  });
}

export { toDataUnits };

/** Write samples (and optionally their trajectory) to `out` by its extension. */
export function writeSamples(
  out: string,
  samples: NDArray,
  info: RunInfo | null,
  trajectory?: NDArray[],
  reference?: NDArray,
): void {
  const ext = path.extname(out).toLowerCase();
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const images = samples.ndim === 4;
  if (ext === '.png') {
    if (images)
      writePng(
        out,
        samples.map((v) => Math.max(-1, Math.min(1, v))),
        { range: '[-1,1]', nrow: Math.ceil(Math.sqrt(samples.shape[0])) },
      );
    else if (samples.shape[1] === 2)
      writeScatterPng(out, toDataUnits(samples, info), {
        reference: reference ? toDataUnits(reference, info) : undefined,
      });
    else
      throw new Error(
        `--out ${out}: a PNG needs images or 2-D points; these samples have ${samples.shape[1]} columns (write a .csv)`,
      );
  } else if (ext === '.csv') {
    if (images) throw new Error(`--out ${out}: image samples are written as .png or .gif`);
    writeCsv(out, toDataUnits(samples, info), { header: info?.data.columns });
  } else if (ext === '.gif') {
    const steps = trajectory && trajectory.length ? trajectory : [samples];
    if (images)
      writeGif(
        out,
        trajectoryFrames(
          steps.map((s) => s.map((v) => Math.max(-1, Math.min(1, v)))),
          { range: '[-1,1]' },
        ),
      );
    else if (samples.shape[1] === 2) {
      const last = toDataUnits(steps[steps.length - 1], info);
      writeGif(
        out,
        scatterTrajectoryFrames(
          steps.map((s) => toDataUnits(s, info)),
          { bounds: boundsOf(last) },
        ),
      );
    } else throw new Error(`--out ${out}: a GIF needs images or 2-D points`);
  } else {
    throw new Error(`--out ${out}: unknown extension '${ext}' (use .png, .csv or .gif)`);
  }
}

function boundsOf(x: NDArray): [number, number, number, number] {
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < x.shape[0]; i++) {
    const a = x.data[2 * i],
      b = x.data[2 * i + 1];
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    x0 = Math.min(x0, a);
    x1 = Math.max(x1, a);
    y0 = Math.min(y0, b);
    y1 = Math.max(y1, b);
  }
  const m = 0.1 * Math.max(x1 - x0, y1 - y0, 1e-3);
  return [x0 - m, x1 + m, y0 - m, y1 + m];
}

/** Load, sample, write. Returns the samples. */
export async function sampleModelFolder(dir: string, o: SampleOptions): Promise<NDArray> {
  const m = loadTrainedModel(dir);
  const wantTrajectory = o.out !== undefined && path.extname(o.out).toLowerCase() === '.gif';
  const traj: NDArray[] = [];
  const x = await sampleLoaded(m, o, wantTrajectory ? traj : undefined);
  if (o.out) writeSamples(o.out, x, m.info, traj);
  return x;
}
