/**
 * Editing commands: `diffuse inpaint`, `diffuse img2img`, `diffuse invert` (with `--interpolate`),
 * `diffuse train-classifier` and `diffuse guide` (classifier guidance). Inputs are PNG/JPEG images
 * (resized to the model's size) or CSV rows (data units; empty or `nan` cells are missing values to
 * impute). The library functions behind them live in src/pipelines (inpaint.ts, img2img.ts, invert.ts,
 * interpolate.ts, classifier_guidance.ts); see docs/editing.md.
 *
 * @example
 *   diffuse inpaint runs/mnist --input digit.png --region lower-half --method repaint --steps 50 --n 8 --out filled.png
 *   diffuse inpaint runs/gmm --input rows.csv --out imputed.csv           # empty cells are imputed
 *   diffuse img2img runs/mnist --input sketch.png --strength 0.6 --out edited.png
 *   diffuse invert runs/mnist --input a.png --input b.png --steps 50 --interpolate 8 --out strip.png
 *   diffuse train-classifier --data mnist --model runs/mnist --steps 1500 --out runs/clf
 *   diffuse guide runs/mnist --classifier runs/clf --class 3 --scale 4 --n 16 --out threes.png
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { NDArray } from '../engine/index.ts';
import type { LoadedModel } from '../folders/index.ts';
import type { EditingSamplerOptions } from '../pipelines/editing_model.ts';

const intOpt = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new InvalidArgumentError(`${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
};
const numOpt =
  (name: string, min: number, max = Infinity) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name}: expected a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
const collect = (v: string, prev: string[] = []) => [...prev, v];
const intList = (name: string) => (v: string) =>
  v.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name}: '${s}' in '${v}' is not a column index (expected e.g. 0,2)`);
    return n;
  });

const progress = (quiet: boolean | undefined, label: string, total: number) => {
  let i = 0;
  const t0 = performance.now();
  return () => {
    i++;
    if (quiet || !process.stderr.isTTY) return;
    process.stderr.write(`\r${label} ${i}/${total} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    if (i === total) process.stderr.write('\n');
  };
};

interface Loaded {
  m: LoadedModel;
  isImage: boolean;
  sampleShape: number[];
}

async function load(dir: string): Promise<Loaded> {
  const { loadPipelineFolder } = await import('../folders/index.ts');
  const { modelSampleShape } = await import('../pipelines/denoiser.ts');
  const m = loadPipelineFolder(dir);
  const sampleShape = modelSampleShape(m.model);
  return { m, isImage: sampleShape.length === 3, sampleShape };
}

/**
 * The scheduler `name` and the model as it calls it, for a model of any formulation (an EDM model runs on VP
 * schedulers through pipelines/editing_model.ts).
 */
async function editingSamplerOf(m: LoadedModel, name: string, o: EditingSamplerOptions = {}) {
  const { denoiserFor } = await import('../pipelines/denoiser.ts');
  const { editingSampler } = await import('../pipelines/editing_model.ts');
  return editingSampler(denoiserFor(m.model, m.weights), m.schedulerConfig, name, o);
}

/** Images from PNG/JPEG files, resized (centre crop) to the model's size, in [-1, 1]. */
async function readImages(files: string[], shape: number[]): Promise<NDArray> {
  const { readImage } = await import('../io/png.ts');
  const { resizeCenterCrop } = await import('../data/resize.ts');
  const { NDArray } = await import('../engine/index.ts');
  const [C, H, W] = shape;
  if (H !== W) throw new Error(`model sample shape [${shape}]: only square images are supported`);
  const out = new NDArray([files.length, C, H, W]);
  files.forEach((f, i) => {
    if (!fs.existsSync(f)) throw new Error(`--input ${f}: no such file`);
    const img = resizeCenterCrop(readImage(f, { mode: C === 1 ? 'L' : 'RGB' }).image, H);
    for (let k = 0; k < img.size; k++) out.data[i * img.size + k] = img.data[k] * 2 - 1;
  });
  return out;
}

/** CSV rows in data units -> model units; empty, `?` or `nan` cells become NaN (missing). */
async function readRows(
  file: string,
  m: LoadedModel,
  dim: number,
): Promise<{ rows: NDArray; header: string[] | undefined }> {
  const { parseCsv } = await import('../io/csv.ts');
  if (!fs.existsSync(file)) throw new Error(`--input ${file}: no such file`);
  const text = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) =>
      line.trim() === ''
        ? line
        : line
            .split(',')
            .map((c) => (c.trim() === '' || c.trim() === '?' ? 'nan' : c))
            .join(','),
    )
    .join('\n');
  const t = parseCsv(text, { source: file, allowNonFinite: true });
  if (t.data.shape[1] !== dim)
    throw new Error(`--input ${file}: rows have ${t.data.shape[1]} columns, the model's samples have ${dim}`);
  const s = m.info?.data.scaler;
  const rows = s
    ? t.data.map((v, i) => {
        const j = s.mean.length === 1 ? 0 : i % dim;
        return (v - s.mean[j]) / s.std[j];
      })
    : t.data;
  return { rows, header: t.columns ?? m.info?.data.columns };
}

/** n copies of each input row/image: [B * n, ...] (the completions of input b are rows b*n .. b*n+n-1). */
async function repeatRows(x: NDArray, n: number): Promise<NDArray> {
  const { NDArray } = await import('../engine/index.ts');
  const B = x.shape[0],
    per = x.size / B;
  const out = new NDArray([B * n, ...x.shape.slice(1)]);
  for (let b = 0; b < B; b++)
    for (let r = 0; r < n; r++) out.data.set(x.data.subarray(b * per, (b + 1) * per), (b * n + r) * per);
  return out;
}

/** Class labels for the diffusion model: --class (with CFG), else the null class (unconditional), else none. */
async function conditioning(m: LoadedModel, B: number, o: { class?: number; guidance?: number }) {
  const { isClassConditional } = await import('../pipelines/denoiser.ts');
  const cond = isClassConditional(m.model);
  const nullClass = m.info?.nullClass ?? undefined;
  const w = o.guidance ?? 1;
  if (!cond) {
    if (o.class !== undefined) throw new Error('--class: this model was trained without classes');
    if (w !== 1) throw new Error('--guidance: this model was trained without classes');
    return {};
  }
  const numClasses = m.info?.data.numClasses ?? null;
  if (o.class !== undefined && numClasses !== null && o.class >= numClasses)
    throw new Error(`--class ${o.class}: expected an integer in 0..${numClasses - 1}`);
  if (o.class === undefined && nullClass === undefined)
    throw new Error(
      '--class: this model is class-conditional and has no null class (trained without --label-dropout); pass --class',
    );
  if (w !== 1 && nullClass === undefined)
    throw new Error(
      '--guidance: this model was not trained with label dropout (classifier-free guidance needs --label-dropout > 0 at training)',
    );
  if (w !== 1 && o.class === undefined) throw new Error('--guidance: needs --class');
  return { classLabels: new Array(B).fill(o.class ?? nullClass), guidanceScale: w, nullClass };
}

async function writeOut(out: string, x: NDArray, m: LoadedModel, nrow: number, header?: string[]): Promise<void> {
  const ext = path.extname(out).toLowerCase();
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  if (x.ndim === 4) {
    if (ext !== '.png') throw new Error(`--out ${out}: image results are written as .png`);
    const { writePng } = await import('../io/png.ts');
    writePng(
      out,
      x.map((v) => Math.max(-1, Math.min(1, v))),
      { range: '[-1,1]', nrow },
    );
  } else if (ext === '.csv') {
    const { writeCsv } = await import('../io/csv.ts');
    const { toDataUnits } = await import('../pipelines/data_units.ts');
    writeCsv(out, toDataUnits(x, m.info), { header });
  } else if (ext === '.png' && x.shape[1] === 2) {
    const { writeSamples } = await import('../pipelines/sample_model.ts');
    writeSamples(out, x, m.info);
  } else {
    throw new Error(`--out ${out}: vector results are written as .csv (or .png for 2-D points)`);
  }
}

interface InpaintCli {
  input: string[];
  mask?: string;
  maskInvert?: boolean;
  region?: string;
  known?: number[];
  method: string;
  scheduler?: string;
  steps: number;
  jumpLength: number;
  jumpNSample: number;
  eta?: number;
  n: number;
  seed: number;
  class?: number;
  guidance?: number;
  out: string;
  quiet?: boolean;
}

async function inpaintCommand(dir: string, o: InpaintCli): Promise<void> {
  const t0 = performance.now();
  const { m, isImage, sampleShape } = await load(dir);
  const { Philox } = await import('../engine/index.ts');
  const masks = await import('../pipelines/mask.ts');
  const { inpaint, repaint } = await import('../pipelines/inpaint.ts');
  if (o.method !== 'replace' && o.method !== 'repaint')
    throw new Error(`--method ${o.method}: expected replace or repaint`);
  let known: NDArray, mask: NDArray, header: string[] | undefined;
  if (isImage) {
    if (o.known) throw new Error('--known: selects columns of vector data; for images use --region or --mask');
    known = await readImages(o.input, sampleShape);
    if ((o.mask === undefined) === (o.region === undefined))
      throw new Error(
        'inpaint: pass exactly one of --mask <png> (white = fill in) or --region <x,y,w,h | lower-half | upper-half | left-half | right-half | center>',
      );
    if (o.region) mask = masks.rectangleMask(sampleShape, o.region);
    else {
      const { readMaskImage } = await import('../pipelines/mask_file.ts');
      mask = readMaskImage(o.mask!, sampleShape, { invert: o.maskInvert });
    }
  } else {
    if (o.input.length !== 1) throw new Error('--input: vector data takes one CSV file');
    if (o.mask || o.region)
      throw new Error(
        '--mask/--region: for images; for vector data mark missing cells empty in the CSV or pass --known <columns>',
      );
    const r = await readRows(o.input[0], m, sampleShape[0]);
    header = r.header;
    if (o.known) {
      mask = masks.knownCoordinatesMask(sampleShape[0], o.known);
      known = r.rows;
    } else {
      ({ mask, known } = masks.maskFromMissing(r.rows));
      if (mask.data.every((v) => v === 1))
        throw new Error(
          `--input ${o.input[0]}: no missing cells (leave cells empty or write nan to impute them, or pass --known)`,
        );
    }
  }
  const reps = await repeatRows(known, o.n);
  const maskB = await repeatRows(masks.broadcastMask(mask, known.shape), o.n);
  const B = reps.shape[0];
  const cond = await conditioning(m, B, o);
  const clip = isImage && m.schedulerConfig.clip_sample !== false;
  let x: NDArray;
  if (o.method === 'repaint') {
    if (o.scheduler)
      throw new Error('--scheduler: RePaint uses its own RePaintScheduler; drop --scheduler or use --method replace');
    const { scheduler: s, model } = await editingSamplerOf(m, 'RePaintScheduler', { overrides: { clip_sample: clip } });
    const { repaintTimesteps } = await import('../samplers/repaint.ts');
    const ts = repaintTimesteps(s.config.num_train_timesteps as number, o.steps, o.jumpLength, o.jumpNSample);
    const calls = ts.filter((t, i) => i === 0 || t < ts[i - 1]).length;
    const tick = progress(o.quiet, 'repaint (model calls)', calls);
    x = await repaint(model, s as never, {
      known: reps,
      mask: maskB,
      steps: o.steps,
      jumpLength: o.jumpLength,
      jumpNSample: o.jumpNSample,
      eta: o.eta ?? 0,
      generator: new Philox(o.seed),
      ...cond,
      onStep: () => tick(),
    });
  } else {
    const { scheduler: s, model } = await editingSamplerOf(m, o.scheduler ?? 'ddpm', {
      overrides: { clip_sample: clip },
    });
    const tick = progress(o.quiet, 'inpaint', o.steps * s.order);
    x = await inpaint(model, s, {
      known: reps,
      mask: maskB,
      steps: o.steps,
      eta: o.eta,
      generator: new Philox(o.seed),
      ...cond,
      onStep: () => tick(),
    });
  }
  await writeOut(o.out, x, m, o.n, header);
  process.stderr.write(
    `wrote ${o.out} (${B} completions, ${o.method}, ${o.steps} steps, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

interface Img2ImgCli {
  input: string[];
  strength: number;
  scheduler?: string;
  steps: number;
  eta?: number;
  n: number;
  seed: number;
  class?: number;
  guidance?: number;
  out: string;
  quiet?: boolean;
}

async function img2imgCommand(dir: string, o: Img2ImgCli): Promise<void> {
  const t0 = performance.now();
  const { m, isImage, sampleShape } = await load(dir);
  const { Philox } = await import('../engine/index.ts');
  const { img2img } = await import('../pipelines/img2img.ts');
  let x0: NDArray, header: string[] | undefined;
  if (isImage) x0 = await readImages(o.input, sampleShape);
  else {
    if (o.input.length !== 1) throw new Error('--input: vector data takes one CSV file');
    const r = await readRows(o.input[0], m, sampleShape[0]);
    if (r.rows.data.some((v) => !Number.isFinite(v)))
      throw new Error(
        `--input ${o.input[0]}: has missing cells; img2img needs complete rows (impute with \`diffuse inpaint\`)`,
      );
    x0 = r.rows;
    header = r.header;
  }
  const reps = await repeatRows(x0, o.n);
  const { scheduler: s, model } = await editingSamplerOf(m, o.scheduler ?? 'ddim', {
    overrides: { clip_sample: isImage && m.schedulerConfig.clip_sample !== false },
  });
  const tick = progress(o.quiet, 'img2img', Math.floor(o.steps * o.strength) * s.order);
  const x = await img2img(model, s, {
    image: reps,
    strength: o.strength,
    steps: o.steps,
    eta: o.eta,
    generator: new Philox(o.seed),
    ...(await conditioning(m, reps.shape[0], o)),
    onStep: () => tick(),
  });
  await writeOut(o.out, x, m, o.n, header);
  process.stderr.write(
    `wrote ${o.out} (${reps.shape[0]} samples, strength ${o.strength}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

interface InvertCli {
  input: string[];
  steps: number;
  interpolate?: number;
  class?: number;
  out?: string;
  saveNoise?: string;
  quiet?: boolean;
}

async function invertCommand(dir: string, o: InvertCli): Promise<void> {
  const t0 = performance.now();
  const { m, isImage, sampleShape } = await load(dir);
  const { ddimInvert, ddimDecode, reconstructionMse } = await import('../pipelines/invert.ts');
  const { interpolationPath } = await import('../pipelines/interpolate.ts');
  const { denoiserFor } = await import('../pipelines/denoiser.ts');
  let x0: NDArray, header: string[] | undefined;
  if (isImage) x0 = await readImages(o.input, sampleShape);
  else {
    if (o.input.length !== 1) throw new Error('--input: vector data takes one CSV file');
    const r = await readRows(o.input[0], m, sampleShape[0]);
    if (r.rows.data.some((v) => !Number.isFinite(v)))
      throw new Error(`--input ${o.input[0]}: has missing cells; inversion needs complete rows`);
    x0 = r.rows;
    header = r.header;
  }
  const B = x0.shape[0];
  if (o.interpolate !== undefined && B < 2)
    throw new Error(
      '--interpolate: needs two inputs (--input a --input b); the path runs from the first to the second',
    );
  if (o.interpolate !== undefined && !o.out)
    throw new Error('--interpolate: needs --out (a PNG strip, a GIF or a CSV)');
  const model = denoiserFor(m.model, m.weights);
  const cond = await conditioning(m, B, { class: o.class });
  const tick = progress(o.quiet, 'invert', 2 * o.steps);
  const z = await ddimInvert(model, m.schedulerConfig, x0, { steps: o.steps, ...cond, onStep: () => tick() });
  const back = await ddimDecode(model, m.schedulerConfig, z, { steps: o.steps, ...cond, onStep: () => tick() });
  const mse = reconstructionMse(x0, back);
  process.stdout.write(
    `DDIM inversion, ${o.steps} steps: reconstruction MSE ${mse.toExponential(3)} (${B} inputs; ${isImage ? 'pixels in [-1, 1]' : 'standardised units'})\n`,
  );
  if (o.saveNoise) {
    const { writeFileAtomicSync } = await import('../io/atomic.ts');
    const { serializeSafetensors } = await import('../io/safetensors.ts');
    writeFileAtomicSync(o.saveNoise, serializeSafetensors({ noise: z }, { format: 'pt', steps: String(o.steps) }));
  }
  if (o.out) {
    if (o.interpolate !== undefined) {
      const per = z.size / B;
      const { NDArray } = await import('../engine/index.ts');
      const za = new NDArray([1, ...z.shape.slice(1)], z.data.subarray(0, per)),
        zb = new NDArray([1, ...z.shape.slice(1)], z.data.subarray(per, 2 * per));
      const pathZ = interpolationPath(za, zb, o.interpolate);
      const pcond = await conditioning(m, o.interpolate, { class: o.class });
      const strip = await ddimDecode(model, m.schedulerConfig, pathZ, { steps: o.steps, ...pcond });
      if (path.extname(o.out).toLowerCase() === '.gif' && isImage) {
        const { writeGif, trajectoryFrames } = await import('../io/gif.ts');
        const frames = Array.from({ length: o.interpolate }, (_, i) =>
          new NDArray([1, ...sampleShape], strip.data.subarray(i * per, (i + 1) * per)).map((v) =>
            Math.max(-1, Math.min(1, v)),
          ),
        );
        writeGif(o.out, trajectoryFrames(frames, { range: '[-1,1]' }));
      } else await writeOut(o.out, strip, m, o.interpolate, header);
    } else {
      const { NDArray } = await import('../engine/index.ts');
      const both = new NDArray([2 * B, ...x0.shape.slice(1)]);
      both.data.set(x0.data, 0);
      both.data.set(back.data, x0.size);
      await writeOut(o.out, isImage ? both : back, m, B, header); // images: inputs on the first row, reconstructions below
    }
    process.stderr.write(`wrote ${o.out} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}

interface TrainClfCli {
  data: string;
  model: string;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  channels?: number[];
  limit?: number;
  out: string;
  quiet?: boolean;
}

async function trainClassifierCommand(o: TrainClfCli): Promise<void> {
  const t0 = performance.now();
  const { openDataSource } = await import('../data/data_source.ts');
  const { NoisyClassifier, validateNoisyClassifierConfig } = await import('../models/noisy_classifier.ts');
  const { trainNoisyClassifier } = await import('../training/train_noisy_classifier.ts');
  const { saveNoisyClassifier } = await import('../pipelines/classifier_folder.ts');
  const { loadModelFolder } = await import('../folders/index.ts');
  const { vpSchedulerConfig } = await import('../pipelines/formulation.ts');
  // the beta table the model is guided on (an EDM model's: diffusers' default, VP_TABLE_FOR_NON_VP_MODELS)
  const noiseSchedule = vpSchedulerConfig(loadModelFolder(o.model).schedulerConfig);
  const data = openDataSource(o.data, { batchSize: o.batchSize, seed: o.seed, limit: o.limit });
  const desc = data.describe();
  if (desc.numClasses === null)
    throw new Error(
      `--data ${o.data}: has no class labels; a classifier needs labelled data (mnist, or an image folder with one sub-folder per class)`,
    );
  const net = new NoisyClassifier(
    validateNoisyClassifierConfig({
      sample_shape: desc.sampleShape,
      num_classes: desc.numClasses,
      ...(o.channels ? { channels: o.channels } : {}),
    }),
  );
  const { weights, losses } = await trainNoisyClassifier(net, data, {
    steps: o.steps,
    lr: o.lr,
    seed: o.seed,
    noiseSchedule,
    onProgress: o.quiet
      ? undefined
      : (p) =>
          process.stderr.write(
            `step ${p.step}/${p.steps}  cross-entropy ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
          ),
  });
  saveNoisyClassifier(o.out, net.config, weights, {
    noiseSchedule,
    training: {
      data: o.data,
      steps: o.steps,
      batch_size: o.batchSize,
      lr: o.lr,
      seed: o.seed,
      final_loss: losses[losses.length - 1],
    },
  });
  process.stderr.write(
    `wrote ${o.out} (${net.numParameters()} parameters, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

interface GuideCli {
  classifier: string;
  class: number;
  scale: number;
  scheduler?: string;
  steps: number;
  eta?: number;
  n: number;
  seed: number;
  out: string;
  quiet?: boolean;
}

async function guideCommand(dir: string, o: GuideCli): Promise<void> {
  const t0 = performance.now();
  const { m, isImage, sampleShape } = await load(dir);
  const { Philox } = await import('../engine/index.ts');
  const { loadNoisyClassifier } = await import('../pipelines/classifier_folder.ts');
  const { classifierGuidedModel } = await import('../pipelines/classifier_guidance.ts');
  const { generate } = await import('../pipelines/generate.ts');
  const { isClassConditional } = await import('../pipelines/denoiser.ts');
  const { clf } = loadNoisyClassifier(o.classifier);
  if (clf.net.config.sample_shape.join() !== sampleShape.join())
    throw new Error(
      `--classifier ${o.classifier}: classifies samples of shape [${clf.net.config.sample_shape}], the model makes [${sampleShape}]`,
    );
  if (o.class >= clf.numClasses) throw new Error(`--class ${o.class}: expected an integer in 0..${clf.numClasses - 1}`);
  let modelLabels: number[] | undefined;
  if (isClassConditional(m.model)) {
    if (m.info?.nullClass == null)
      throw new Error(
        'guide: this class-conditional model has no null class (trained without --label-dropout); classifier guidance needs unconditional predictions',
      );
    modelLabels = new Array(o.n).fill(m.info.nullClass);
  }
  // classifier guidance shifts eps: an eps view of any model (v / x0 / EDM converted) on a VP scheduler
  const { scheduler: s, model } = await editingSamplerOf(m, o.scheduler ?? 'ddim', {
    epsilon: true,
    overrides: { clip_sample: isImage && m.schedulerConfig.clip_sample !== false },
  });
  const alphasCumprod = (s as unknown as { alphasCumprod?: Float32Array }).alphasCumprod;
  if (!alphasCumprod) throw new Error(`--scheduler ${o.scheduler}: has no alphas_cumprod table`);
  const guided = classifierGuidedModel(model, clf, {
    alphasCumprod,
    classLabels: new Array(o.n).fill(o.class),
    scale: o.scale,
    modelLabels,
  });
  const tick = progress(o.quiet, 'guide', o.steps * s.order);
  const x = await generate(guided, s, {
    shape: [o.n, ...sampleShape],
    steps: o.steps,
    eta: o.eta,
    generator: new Philox(o.seed),
    onStep: () => tick(),
  });
  await writeOut(o.out, x, m, Math.ceil(Math.sqrt(o.n)));
  process.stderr.write(
    `wrote ${o.out} (${o.n} samples of class ${o.class}, classifier scale ${o.scale}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
}

/** Register inpaint, img2img, invert, train-classifier and guide on the program. @example registerEditCommands(program) */
export function registerEditCommands(program: Command): void {
  const common = (c: Command) =>
    c
      .option('--n <n>', 'samples per input', intOpt('--n', 1), 1)
      .option('--seed <n>', 'random seed', intOpt('--seed', 0), 0)
      .option(
        '--class <k>',
        'class label (class-conditional models; default: the null class = unconditional)',
        intOpt('--class', 0),
      )
      .option('--guidance <w>', 'classifier-free guidance weight (with --class)', numOpt('--guidance', 0), 1)
      .option('--quiet', 'no progress output');

  common(
    program
      .command('inpaint')
      .description('fill in masked pixels of images or missing cells of CSV rows (replacement method or RePaint)')
      .argument('<dir>', 'model folder')
      .requiredOption(
        '--input <file>',
        'PNG/JPEG image (repeatable) or one CSV file (data units; empty/nan cells are missing)',
        collect,
      )
      .option('--mask <png>', 'mask image: white = fill in, black = keep (resized to the model size)')
      .option('--mask-invert', 'swap the mask image convention (white = keep)')
      .option(
        '--region <spec>',
        'rectangle to fill: x,y,w,h in pixels, or lower-half | upper-half | left-half | right-half | center',
      )
      .option(
        '--known <cols>',
        'vector data: the observed columns (0-based, comma-separated); the others are imputed',
        intList('--known'),
      )
      .option('--method <m>', 'replace (any scheduler) | repaint (RePaint resampling)', 'replace')
      .option('--scheduler <name>', 'scheduler for --method replace (default ddpm)')
      .option('--steps <n>', 'inference steps', intOpt('--steps', 1), 50)
      .option('--jump-length <n>', 'RePaint: steps per jump back', intOpt('--jump-length', 1), 10)
      .option('--jump-n-sample <n>', 'RePaint: resamplings per jump point (1 = none)', intOpt('--jump-n-sample', 1), 10)
      .option('--eta <x>', 'DDIM / RePaint eta', numOpt('--eta', 0, 1))
      .requiredOption('--out <file>', 'PNG grid (one row per input) or CSV'),
  ).action(async (dir: string, o: InpaintCli) => inpaintCommand(dir, o));

  common(
    program
      .command('img2img')
      .description('edit images or rows by noising them to a strength and denoising (SDEdit)')
      .argument('<dir>', 'model folder')
      .requiredOption('--input <file>', 'PNG/JPEG image (repeatable) or one CSV file', collect)
      .option('--strength <s>', 'how much to change, 0..1', numOpt('--strength', 0, 1), 0.6)
      .option('--scheduler <name>', 'scheduler (default ddim)')
      .option('--steps <n>', 'inference steps of the full schedule', intOpt('--steps', 1), 50)
      .option('--eta <x>', 'DDIM eta', numOpt('--eta', 0, 1))
      .requiredOption('--out <file>', 'PNG grid or CSV'),
  ).action(async (dir: string, o: Img2ImgCli) => img2imgCommand(dir, o));

  program
    .command('invert')
    .description(
      'DDIM inversion: data -> noise -> data, with the reconstruction error; --interpolate decodes a slerp path between two inputs',
    )
    .argument('<dir>', 'model folder')
    .requiredOption('--input <file>', 'PNG/JPEG image (repeatable) or one CSV file', collect)
    .option('--steps <n>', 'DDIM steps each way', intOpt('--steps', 1), 50)
    .option('--class <k>', 'class label (class-conditional models; default the null class)', intOpt('--class', 0))
    .option(
      '--interpolate <k>',
      'decode k points of the slerp path between the first two inverted noises',
      intOpt('--interpolate', 2),
    )
    .option('--save-noise <file>', 'write the inverted noise as .safetensors')
    .option('--out <file>', 'PNG (inputs over reconstructions, or the interpolation strip), GIF (interpolation) or CSV')
    .option('--quiet', 'no progress output')
    .action(async (dir: string, o: InvertCli) => invertCommand(dir, o));

  program
    .command('train-classifier')
    .description(
      'train a time-conditional classifier for classifier guidance (on the noise schedule of a model folder)',
    )
    .requiredOption('--data <spec>', 'labelled data: mnist | an image folder with one sub-folder per class')
    .requiredOption('--model <dir>', 'the diffusion model folder whose noise schedule the classifier learns')
    .option('--steps <n>', 'optimizer steps', intOpt('--steps', 1), 1500)
    .option('--batch-size <n>', 'batch size', intOpt('--batch-size', 1), 64)
    .option('--lr <x>', 'peak learning rate (AdamW, cosine decay)', numOpt('--lr', 0), 2e-3)
    .option('--channels <list>', 'conv widths (images) or hidden widths (vectors), e.g. 32,64', (v: string) =>
      v.split(',').map((s) => intOpt('--channels', 1)(s.trim())),
    )
    .option('--limit <n>', 'use only the first n items of the data set', intOpt('--limit', 1))
    .option('--seed <n>', 'random seed', intOpt('--seed', 0), 0)
    .requiredOption('--out <dir>', 'output folder (config.json + weights)')
    .option('--quiet', 'no progress output')
    .action(async (o: TrainClfCli) => trainClassifierCommand(o));

  program
    .command('guide')
    .description('sample toward a class with classifier guidance (a classifier from `diffuse train-classifier`)')
    .argument('<dir>', 'model folder (unconditional, or class-conditional with a null class)')
    .requiredOption('--classifier <dir>', 'classifier folder')
    .requiredOption('--class <k>', 'target class', intOpt('--class', 0))
    .option('--scale <s>', 'classifier guidance scale (0 = off)', numOpt('--scale', 0), 1)
    .option('--scheduler <name>', 'scheduler (default ddim)')
    .option('--steps <n>', 'inference steps', intOpt('--steps', 1), 50)
    .option('--eta <x>', 'DDIM eta', numOpt('--eta', 0, 1))
    .option('--n <n>', 'number of samples', intOpt('--n', 1), 16)
    .option('--seed <n>', 'random seed', intOpt('--seed', 0), 0)
    .requiredOption('--out <file>', 'PNG grid or CSV')
    .option('--quiet', 'no progress output')
    .action(async (dir: string, o: GuideCli) => guideCommand(dir, o));
}
