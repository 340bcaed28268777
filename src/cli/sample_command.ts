/**
 * `diffuse sample DIR --out FILE`: checks first (the output path, the memory the job needs), then
 * draws the samples in chunks (`sampleChunkSize`, from the model config only), so any --n works:
 * a .csv is streamed to disk chunk by chunk (bounded memory, still atomic); a .png keeps only the
 * samples themselves (2-D points, or images when the grid fits the memory limit); a .gif keeps the
 * trajectory, so it is drawn in one chunk. --n up to one chunk draws exactly what one batch of
 * --n draws (same random stream); beyond, chunk k draws from Philox(seed).fold(k).
 *
 * @example
 *   await sampleCommand('runs/moons', { scheduler: 'ddim', steps: 20, n: 10_000_000, seed: 0, out: 'big.csv' });
 */
import path from 'node:path';
import { NDArray, Philox } from '../engine/index.ts';
import {
  checkMemory,
  estimateModelResources,
  formatBytes,
  sampleChunkSize,
  samplingBytes,
  type MemoryLimit,
} from '../models/resources.ts';
import { memoryLimit } from '../models/memory_limit.ts';
import {
  loadTrainedModel,
  sampleLoaded,
  toDataUnits,
  writeSamples,
  type SampleOptions,
} from '../pipelines/sample_model.ts';
import { denoiserFor, modelSampleShape } from '../pipelines/denoiser.ts';
import { defaultSchedulerFor } from '../pipelines/scheduler_choice.ts';
import { CsvStreamWriter } from '../io/csv_stream.ts';
import { detectLayout, readModelConfigFile, withFileLock } from '../folders/index.ts';
import { checkOutputFile } from './output_paths.ts';

export interface SampleCliOptions {
  scheduler?: string;
  steps: number;
  /** Custom descending timesteps (replaces --steps). */
  timesteps?: number[];
  n: number;
  seed: number;
  class?: number;
  guidance?: number;
  eta?: number;
  out: string;
  quiet?: boolean;
}

/** Sample a model folder to --out; returns the number of samples written. */
export async function sampleCommand(dir: string, options: SampleCliOptions): Promise<number> {
  const t0 = performance.now();
  const o = options.timesteps ? { ...options, steps: options.timesteps.length } : options;
  checkOutputFile(o.out, '--out', ['.png', '.csv', '.gif']);
  // The estimate from config.json alone, before the weights are read.
  const configFile = path.join(detectLayout(dir).modelDir, 'config.json');
  const r = estimateModelResources(readModelConfigFile(configFile), configFile);
  const chunk = sampleChunkSize(r);
  const ext = path.extname(o.out).toLowerCase();
  const limit = memoryLimit();
  const per = Math.min(chunk, o.n);
  checkMemory(
    `sample ${dir} (${r.parameters.toLocaleString('en')} parameters) in chunks of ${per}`,
    samplingBytes(r, per),
    limit,
  );
  const m = loadTrainedModel(dir);
  const shape = modelSampleShape(m.model);
  const elems = shape.reduce((a, b) => a * b, 1);
  checkOutputFits(o, ext, shape, chunk, limit);
  // without --scheduler: DPM-Solver++, or a consistency model's own sampler
  const scheduler = o.scheduler ?? defaultSchedulerFor(m.schedulerConfig, 'dpmsolver++');
  const base: SampleOptions = {
    scheduler,
    steps: o.steps,
    timesteps: o.timesteps,
    n: o.n,
    seed: o.seed,
    classLabel: o.class,
    guidance: o.guidance,
    eta: o.eta,
  };
  const chunks = Math.ceil(o.n / chunk);
  const log = o.quiet || chunks === 1 ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  const denoiser = denoiserFor(m.model, m.weights); // compiled once per batch size, shared by the chunks
  const drawChunk = (k: number, trajectory?: NDArray[]) => {
    const n = Math.min(chunk, o.n - k * chunk);
    // One chunk: the stream of a single batch (identical to sampling --n at once).
    const generator = chunks === 1 ? new Philox(o.seed) : new Philox(o.seed).fold(k);
    return sampleLoaded(m, { ...base, n, generator, labelOffset: k * chunk, denoiser }, trajectory);
  };
  if (chunks > 1)
    log(
      `sampling ${o.n.toLocaleString('en')} samples in ${chunks} chunks of up to ${chunk} (${formatBytes(samplingBytes(r, chunk))} each)`,
    );
  // One writer per output file (folders/lock.ts): a second `sample` to the same file fails instead of racing.
  await withFileLock(o.out, 'sample', () => writeOutput());
  process.stderr.write(
    `wrote ${o.out} (${o.n} samples, ${o.timesteps ? `timesteps ${o.timesteps.join(',')} of` : o.steps} ${scheduler}${o.timesteps ? '' : ' steps'}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  return o.n;

  async function writeOutput(): Promise<void> {
    if (ext === '.csv') {
      if (shape.length !== 1) throw new Error(`--out ${o.out}: image samples are written as .png or .gif`);
      const w = new CsvStreamWriter(o.out, m.info?.data.columns);
      try {
        for (let k = 0; k < chunks; k++) {
          w.append(toDataUnits(await drawChunk(k), m.info));
          if (chunks > 1) log(`  chunk ${k + 1}/${chunks}: ${w.rows.toLocaleString('en')} rows written`);
        }
        w.commit();
      } finally {
        w.abort();
      }
    } else {
      const trajectory: NDArray[] = [];
      let all: NDArray;
      if (chunks === 1) all = await drawChunk(0, ext === '.gif' ? trajectory : undefined);
      else {
        all = new NDArray([o.n, ...shape]);
        for (let k = 0; k < chunks; k++) {
          const x = await drawChunk(k);
          all.data.set(x.data, k * chunk * elems);
          log(`  chunk ${k + 1}/${chunks}`);
        }
      }
      writeSamples(o.out, all, m.info, trajectory);
    }
  }
}

/**
 * What the output file needs in memory, refused up front (naming --n / --steps / --out): a .gif keeps the
 * trajectory of every step of one batch (at most one chunk of samples), a .png keeps all samples for one
 * picture (plus its raster); a .csv streams and needs nothing more.
 */
function checkOutputFits(o: SampleCliOptions, ext: string, shape: number[], chunk: number, limit: MemoryLimit): void {
  const elems = shape.reduce((a, b) => a * b, 1);
  if (ext === '.gif') {
    if (o.n > chunk)
      throw new Error(
        `--n ${o.n}: a .gif holds the trajectory of every step, drawn in one batch: at most ${chunk} samples for this model (write a .csv or .png for more)`,
      );
    checkMemory(
      `--n ${o.n} --steps ${o.steps} --out ${o.out} (the trajectory of every step)`,
      4 * elems * o.n * (o.steps + 2),
      limit,
      'write a .csv to stream any --n',
    );
  } else if (ext === '.png') {
    // the samples kept for the picture, plus the RGBA raster of an image grid
    const raster = shape.length === 3 ? 4 * o.n * shape[1] * shape[2] : 0;
    checkMemory(
      `--n ${o.n} --out ${o.out} (${o.n} samples of [${shape}] kept for one picture)`,
      8 * elems * o.n + 2 * raster,
      limit,
      'write a .csv to stream any --n',
    );
  }
}
