/**
 * The training loop, in one readable file: data -> forward process -> compiled train step
 * (model + loss + backward + clipping + AdamW in one ONNX graph) -> EMA -> checkpoints.
 *
 * Resume restores everything (weights, EMA, AdamW moments and step, RNG streams, data order), so a
 * resumed run continues exactly as the uninterrupted one would. A non-finite loss stops training
 * with a message naming the step and the last good checkpoint (or skips the step on request).
 *
 * @example
 *   const result = await train({
 *     model: createModel('mlp-2d'), data: openDataSource('moons', { batchSize: 256, seed: 0 }),
 *     config: { ...defaultTrainConfig(), steps: 2000 }, outDir: 'runs/moons' });
 */
import fs from 'node:fs';
import { NDArray, Philox, trace, type PhiloxState, type Value } from '../engine/index.ts';
import { withParams, checkParams } from '../nn/module.ts';
import { countDropoutNoise, withDropoutNoise } from '../nn/dropout.ts';
import { modelFromConfig, type DiffusionModel } from '../models/registry.ts';
import { DDPMScheduler } from '../samplers/ddpm.ts';
import { DiffusionObjective, diffusionLoss, type ObjectiveConfig } from './objectives.ts';
import { EdmObjective, edmLoss } from './edm_objective.ts';
import { TrainStep } from './train_step.ts';
import { Ema } from './ema.ts';
import { warmupCosine } from './lr_schedule.ts';
import {
  acquireFolderLock,
  cleanStaleTemporaries,
  commitTrainingSave,
  resumeLatestCheckpoint,
} from '../folders/index.ts';
import { warn } from '../io/warn.ts';
import type { DataDescription, DataSource } from '../data/data_source.ts';
import type { CheckpointData } from '../folders/index.ts';
import { checkResumeConfig } from './resume_config.ts';

export interface TrainConfig {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  minLr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Global-norm gradient clipping (null = off). */
  maxGradNorm: number | null;
  gradAccumSteps: number;
  /** EMA max decay (null = no EMA). */
  emaDecay: number | null;
  emaPower: number;
  objective: ObjectiveConfig;
  /** The training noise schedule: a DDPMScheduler config (diffusers keys). */
  noiseSchedule: Record<string, unknown>;
  /** Probability of replacing a class label by the null class (classifier-free guidance training). */
  labelDropout: number;
  seed: number;
  checkpointEvery: number;
  keepLast: number;
  /** On a non-finite loss: 'stop' (default) or 'skip' the step. */
  onNonFinite: 'stop' | 'skip';
}

export function defaultTrainConfig(): TrainConfig {
  return {
    steps: 1000,
    batchSize: 64,
    lr: 1e-3,
    warmupSteps: 100,
    minLr: 0,
    weightDecay: 0,
    beta1: 0.9,
    beta2: 0.999,
    maxGradNorm: 1,
    gradAccumSteps: 1,
    emaDecay: 0.999,
    emaPower: 0.75,
    objective: { predictionType: 'epsilon' },
    noiseSchedule: { num_train_timesteps: 1000, beta_schedule: 'linear', beta_start: 0.0001, beta_end: 0.02 },
    labelDropout: 0,
    seed: 0,
    checkpointEvery: 500,
    keepLast: 2,
    onNonFinite: 'stop',
  };
}

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  itPerSec: number;
  etaSec: number;
}

export interface TrainOptions {
  model: DiffusionModel;
  data: DataSource;
  config: TrainConfig;
  /** Folder for checkpoints and the final model (diffusers layout); without it nothing is written to disk. */
  outDir?: string;
  /** Continue from the newest checkpoint in outDir. */
  resume?: boolean;
  /** Start from these weights (fine-tuning) instead of a random initialisation. */
  initialWeights?: Record<string, NDArray>;
  /** Settings that may differ from the checkpoint's on resume (e.g. ['lr', 'steps']); see resume_config.ts. */
  override?: readonly string[];
  onProgress?: (p: Progress) => void;
  /** Called every `everySteps` with the EMA (or raw) weights, e.g. to write a sample grid. */
  onSample?: { everySteps: number; fn: (step: number, weights: Record<string, NDArray>) => Promise<void> };
  /** Stop after this many steps of this call (the run can be resumed), for tests of resume. */
  stopAfter?: number;
  /**
   * Called after every step with the seconds spent training so far and a getter for the current
   * (EMA) weights; return true to stop now (a checkpoint is written), e.g. for a wall-time budget.
   */
  afterStep?: (
    step: number,
    seconds: number,
    weights: () => Record<string, NDArray>,
  ) => boolean | void | Promise<boolean | void>;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  weights: Record<string, NDArray>;
  seconds: number;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly lastCheckpoint: string | null,
    loss: number,
  ) {
    const what = Number.isFinite(loss) ? `the weights became non-finite (loss ${loss})` : `the loss became ${loss}`;
    super(
      `training stopped: ${what} at step ${step}; last good checkpoint: ${lastCheckpoint ?? 'none yet'} (resume from it with a lower --lr, or pass --skip-nonfinite to skip such steps)`,
    );
    this.name = 'NonFiniteLossError';
  }
}

/** The null class used for label dropout: one past the data's classes. */
export function nullClassOf(model: DiffusionModel): number | null {
  const n = (model.config as { num_class_embeds?: number | null }).num_class_embeds;
  return typeof n === 'number' && n > 0 ? n - 1 : null;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  // One writer per folder (folders/lock.ts): a second run on the same outDir fails before writing anything.
  const lock = o.outDir !== undefined ? acquireFolderLock(o.outDir, 'train') : null;
  try {
    return await trainLocked(o);
  } finally {
    lock?.release();
  }
}

async function trainLocked(o: TrainOptions): Promise<TrainResult> {
  const { model, data, config: c, outDir } = o;
  const desc = data.describe();
  const modelConfig = model.toConfig() as unknown as Record<string, unknown>;
  const { objective, edm, schedulerConfig } = trainingObjective(c);
  const batchShape = [c.batchSize, ...desc.sampleShape];
  const conditional = nullClassOf(model) !== null;
  checkLabels(model, desc, c);
  const start = startState(o, modelConfig, desc);
  const { noiseRng, dropRng, ema, losses, startStep } = start;
  let lastCheckpoint = start.lastCheckpoint;

  // Dropout (a model config's `dropout` > 0) is active in the training graph only: one input of uniform draws per
  // micro-batch, from its own Philox stream keyed by the micro-batch index (nn/dropout.ts); none when the model has no dropout.
  const dropoutDraws = dropoutDrawCount(model, start.params, batchShape, conditional);
  const ts = await createTrainStep(
    model,
    objective,
    edm !== null,
    start.params,
    batchShape,
    conditional,
    dropoutDraws,
    c,
  );
  resumeOptimizer(ts, start.restored);
  const lrAt = warmupCosine({ lr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps, minLr: c.minLr });
  const microBatch = microBatchSource(o, objective, {
    noiseRng,
    dropRng,
    batchShape,
    conditional,
    dropoutDraws,
    startStep,
  });
  const weights = (): Record<string, NDArray> => (ema ? ema.params : ts.params);

  // The sampling model in OUT first (pipeline layout, diffuse.json last), then the checkpoint:
  // OUT's model is never older than the newest checkpoint (folders/commit.ts).
  const save = (step: number) => {
    if (outDir === undefined) return;
    const state = { modelConfig, schedulerConfig, desc, data, noiseRng, dropRng, ema, losses, ts };
    lastCheckpoint = saveRun(outDir, step, c, nullClassOf(model), state);
  };

  if (outDir !== undefined) fs.mkdirSync(outDir, { recursive: true });
  const t0 = performance.now();
  const end = o.stopAfter !== undefined ? Math.min(c.steps, startStep + o.stopAfter) : c.steps;
  let skipped = 0;
  // A run resumed after its final save: what follows that save (the last preview) may be missing.
  if (o.resume && startStep === c.steps && o.onSample) await o.onSample.fn(c.steps, weights());
  for (let step = startStep; step < end; step++) {
    const batches: Record<string, NDArray>[] = [];
    for (let i = 0; i < c.gradAccumSteps; i++) batches.push(await microBatch());
    const lr = lrAt(step);
    const { loss, finite } = await guardedStep(ts, batches, lr);
    if (!finite) {
      if (c.onNonFinite !== 'skip') throw new NonFiniteLossError(step + 1, lastCheckpoint, loss);
      losses.push(NaN);
      skipped += 1;
      warnSkippedStep(step + 1, loss, skipped);
      // A skipped step still counts: its checkpoint (and the final model) are written as scheduled.
      if ((step + 1) % c.checkpointEvery === 0 || step + 1 === c.steps) save(step + 1);
      if (o.onSample && step + 1 === c.steps) await o.onSample.fn(step + 1, weights());
      continue;
    }
    losses.push(loss);
    ema?.update(ts.params);
    const done = step + 1;
    const secs = (performance.now() - t0) / 1000;
    const rate = (done - startStep) / secs;
    o.onProgress?.({ step: done, steps: c.steps, loss, lr, itPerSec: rate, etaSec: (c.steps - done) / rate });
    const stop = (await o.afterStep?.(done, secs, weights)) === true;
    if (done % c.checkpointEvery === 0 || done === c.steps || (stop && done % c.checkpointEvery !== 0)) save(done);
    if (o.onSample && (done % o.onSample.everySteps === 0 || done === c.steps)) await o.onSample.fn(done, weights());
    if (stop) return { steps: done, losses, weights: weights(), seconds: (performance.now() - t0) / 1000 };
  }
  return { steps: end, losses, weights: weights(), seconds: (performance.now() - t0) / 1000 };
}

/**
 * The forward process and loss of a config: DDPM's noise table with the objective's prediction and variance
 * type, or EDM's preconditioned objective (Karras et al. 2022), whose model folder says so with an
 * EDMDPMSolverMultistepScheduler config.
 */
function trainingObjective(c: TrainConfig): {
  objective: DiffusionObjective | EdmObjective;
  edm: EdmObjective | null;
  schedulerConfig: Record<string, unknown>;
} {
  const noise = new DDPMScheduler({
    ...c.noiseSchedule,
    prediction_type: c.objective.predictionType ?? 'epsilon',
    variance_type: c.objective.varianceType === 'learned_range' ? 'learned_range' : 'fixed_small',
  });
  const edm = c.objective.formulation === 'edm' ? new EdmObjective(c.objective.edm) : null;
  const objective = edm ?? new DiffusionObjective(noise.alphasCumprod, c.objective);
  return { objective, edm, schedulerConfig: edm ? edm.schedulerConfig() : noise.toConfig() };
}

/** Where a run starts: fresh weights (or o.initialWeights), or the newest checkpoint when resuming. */
interface StartState {
  params: Record<string, NDArray>;
  ema: Ema | null;
  /** RNG streams: noise (t, eps) and label dropout (data order lives in the data source). */
  noiseRng: Philox;
  dropRng: Philox;
  startStep: number;
  losses: number[];
  restored: CheckpointData | null;
  lastCheckpoint: string | null;
}

/**
 * The fresh start of a run (Philox streams 0: init, 1: noise, 2: label dropout) or, with o.resume, the state of
 * the newest checkpoint in outDir (checked against this run's model, data and config). Leftovers of a killed
 * run (temporary folders/files) are removed first; they are never read as checkpoints.
 */
function startState(o: TrainOptions, modelConfig: Record<string, unknown>, desc: DataDescription): StartState {
  const { model, data, config: c, outDir } = o;
  const root = new Philox(c.seed);
  const fresh: StartState = {
    noiseRng: root.fold(1),
    dropRng: root.fold(2),
    params: model.initParams(root.fold(0)),
    ema: null,
    startStep: 0,
    losses: [],
    restored: null,
    lastCheckpoint: null,
  };
  if (o.initialWeights) {
    checkParams(model, o.initialWeights, 'initialWeights');
    fresh.params = Object.fromEntries(Object.keys(fresh.params).map((k) => [k, o.initialWeights![k]]));
  }
  if (c.emaDecay !== null) fresh.ema = new Ema(fresh.params, { maxDecay: c.emaDecay, power: c.emaPower });
  if (outDir !== undefined)
    for (const what of cleanStaleTemporaries(outDir)) warn(`${outDir}: ${what} (left by an interrupted run)`);
  if (!o.resume) return fresh;
  if (outDir === undefined) throw new Error('train: resume needs an outDir holding checkpoints');
  const found = resumeLatestCheckpoint(outDir, warn, c.keepLast); // also repairs OUT's model and pruning (folders/commit.ts)
  if (!found) return fresh;
  checkResumable(found, model, modelConfig, desc, c, fresh.ema !== null, o.override);
  const restored = found.data;
  const st = restored.trainerState as Record<string, unknown>;
  let ema = fresh.ema;
  if (ema && restored.ema) {
    ema = new Ema(restored.ema, { maxDecay: c.emaDecay!, power: c.emaPower });
    ema.step = Number(st.emaStep ?? 0);
  }
  data.restore(st.data);
  return {
    // Keep the model's parameter order (a checkpoint's is alphabetical): the traced step sums the
    // per-parameter gradient norms in this order, so another order changes the clipping by an ulp.
    params: Object.fromEntries(Object.keys(fresh.params).map((k) => [k, restored.params[k]])),
    ema,
    noiseRng: Philox.fromState(st.noiseRng as PhiloxState),
    dropRng: Philox.fromState(st.dropRng as PhiloxState),
    startStep: restored.step,
    losses: (st.losses as number[]) ?? [],
    restored,
    lastCheckpoint: found.dir,
  };
}

/**
 * The next micro-batch of training inputs: data, the objective's noised batch (t, eps from noiseRng),
 * labels with label dropout to the null class (dropRng), and the dropout draws of micro-batch `microIndex`
 * (counted from the start step, so a resumed run continues the stream).
 */
function microBatchSource(
  o: TrainOptions,
  objective: DiffusionObjective | EdmObjective,
  s: {
    noiseRng: Philox;
    dropRng: Philox;
    batchShape: number[];
    conditional: boolean;
    dropoutDraws: number;
    startStep: number;
  },
): () => Promise<Record<string, NDArray>> {
  const { data, config: c } = o;
  const B = c.batchSize;
  const nullClass = nullClassOf(o.model);
  const dropoutRoot = new Philox(c.seed).fold(3);
  let microIndex = s.startStep * c.gradAccumSteps;
  return async () => {
    const { x, labels } = await data.next();
    const b = objective.makeBatch(x.reshape(s.batchShape), s.noiseRng);
    if (s.conditional) {
      const lab = new NDArray([B], labels!);
      if (c.labelDropout > 0) {
        const u = s.dropRng.uniform([B]);
        for (let i = 0; i < B; i++) if (u.data[i] < c.labelDropout) lab.data[i] = nullClass!;
      }
      b.labels = lab;
    }
    if (s.dropoutDraws > 0) b.dropout_u = dropoutRoot.fold(microIndex).uniform([s.dropoutDraws]);
    microIndex++;
    return b;
  };
}

/** Adam's moments and step count from a resumed checkpoint (none: the fresh optimizer state stays). */
function resumeOptimizer(ts: TrainStep, restored: CheckpointData | null): void {
  if (!restored?.optimizer) return;
  ts.m = restored.optimizer.m;
  ts.v = restored.optimizer.v;
  ts.t = restored.optimizer.t;
}

/**
 * One optimizer step on the micro-batches (gradient accumulation when there are several). A non-finite loss or
 * non-finite weights put the weights and optimizer state back as they were; `finite` says which happened.
 */
async function guardedStep(
  ts: TrainStep,
  batches: Record<string, NDArray>[],
  lr: number,
): Promise<{ loss: number; finite: boolean }> {
  // Copies of the records: TrainStep.step replaces their entries in place.
  const prev = { params: { ...ts.params }, m: { ...ts.m }, v: { ...ts.v }, t: ts.t };
  const { loss } = await ts.step(batches.length === 1 ? batches[0] : batches, lr);
  if (Number.isFinite(loss) && allFinite(ts.params)) return { loss, finite: true };
  Object.assign(ts, prev);
  return { loss, finite: false };
}

/** The warning of a skipped non-finite step (the first 10 of a run). */
function warnSkippedStep(step: number, loss: number, skipped: number): void {
  if (skipped > 10) return;
  const what = Number.isFinite(loss) ? `the weights became non-finite (loss ${loss})` : `the loss is ${loss}`;
  warn(
    `step ${step}: ${what}; step skipped (weights and optimizer state unchanged)${skipped === 10 ? '; further skipped steps are not reported' : ''}`,
  );
}

/** The model's class embedding must fit the data's classes (plus the null class of label dropout). */
function checkLabels(model: DiffusionModel, desc: DataDescription, c: TrainConfig): void {
  const conditional = nullClassOf(model) !== null;
  if (conditional && desc.numClasses === null)
    throw new Error(`model has a class embedding but the data '${desc.spec}' has no labels`);
  if (
    conditional &&
    desc.numClasses! + (c.labelDropout > 0 ? 1 : 0) > (model.config as { num_class_embeds: number }).num_class_embeds
  ) {
    throw new Error(
      `model num_class_embeds = ${(model.config as { num_class_embeds: number }).num_class_embeds} is too small for ${desc.numClasses} classes${c.labelDropout > 0 ? ' plus the null class of label dropout' : ''}`,
    );
  }
  if (!(c.labelDropout >= 0 && c.labelDropout < 1))
    throw new Error(`label dropout must be in [0, 1), got ${c.labelDropout}`);
}

/**
 * The newest checkpoint may be continued by this call: same model config, same data, the run's settings
 * (or overridden ones, resume_config.ts), optimizer and EMA state present, finite weights. Throws naming
 * the checkpoint and what differs.
 */
function checkResumable(
  found: { dir: string; data: CheckpointData },
  model: DiffusionModel,
  modelConfig: Record<string, unknown>,
  desc: DataDescription,
  c: TrainConfig,
  usesEma: boolean,
  override: readonly string[] | undefined,
): void {
  const last = found.dir;
  const restored = found.data;
  checkParams(model, restored.params, `${last}/diffusion_pytorch_model.safetensors`);
  const st = restored.trainerState as Record<string, unknown>;
  // Compared with defaults filled in, so a checkpoint written before a config key existed still resumes.
  const storedModel =
    st.modelConfig && typeof st.modelConfig === 'object'
      ? modelFromConfig(st.modelConfig, `${last}/trainer_state.json modelConfig`).toConfig()
      : st.modelConfig;
  if (JSON.stringify(storedModel) !== JSON.stringify(modelConfig))
    throw new Error(`--resume: ${last} was trained with another model config; use another --out or the same --model`);
  // The run's settings, data and saved state must match what this call continues (resume_config.ts).
  checkResumeConfig(st.trainConfig as Partial<TrainConfig> | undefined, c, {
    step: restored.step,
    where: last,
    override: override,
  });
  if (st.dataDescription !== undefined && JSON.stringify(st.dataDescription) !== JSON.stringify(desc)) {
    const d = st.dataDescription as { spec?: string; sampleShape?: number[]; size?: number | null };
    throw new Error(
      `--data ${desc.spec}: ${last} was trained on '${d.spec}' (samples [${d.sampleShape}], ${d.size ?? 'unbounded'} items, its columns/scaling as stored); this run's data '${desc.spec}' differs (samples [${desc.sampleShape}], ${desc.size ?? 'unbounded'} items); use the same data or another --out`,
    );
  }
  if (!restored.optimizer)
    throw new Error(
      `--resume: ${last} has no optimizer.safetensors (AdamW state); continuing without it would train differently from the run it continues; restore the file or resume from an older checkpoint (move this one away)`,
    );
  for (const [what, w] of [
    ['weights', restored.params],
    ['EMA weights', restored.ema ?? {}],
  ] as const) {
    if (!allFinite(w))
      throw new Error(
        `--resume: ${last} holds non-finite ${what} (NaN or inf), so it is not a good checkpoint to continue; move it away to resume from the one before it`,
      );
  }
  if (usesEma && !restored.ema)
    throw new Error(
      `--resume: ${last} has no ema.safetensors although the run uses EMA; continuing would restart the EMA from the raw weights; restore the file or resume from an older checkpoint (move this one away)`,
    );
}

/** Uniform draws the model's dropout layers take per micro-batch (0 for a model without dropout). */
function dropoutDrawCount(
  model: DiffusionModel,
  params: Record<string, NDArray>,
  shape: number[],
  conditional: boolean,
): number {
  let draws = 0;
  const B = shape[0]!;
  trace(
    (x: Value, t: Value, y: Value) => {
      draws = countDropoutNoise(() =>
        withParams(model, params, () => model.forward(x, t, conditional ? y : undefined)),
      );
      return x;
    },
    [
      { name: 'x', shape },
      { name: 't', shape: [B] },
      { name: 'y', shape: [B] },
    ],
  );
  return draws;
}

/** The compiled step: model forward (dropout fed by a graph input), the loss, backward, clipping and AdamW. */
function createTrainStep(
  model: DiffusionModel,
  objective: DiffusionObjective | EdmObjective,
  edm: boolean,
  params: Record<string, NDArray>,
  shape: number[],
  conditional: boolean,
  dropoutDraws: number,
  c: TrainConfig,
): Promise<TrainStep> {
  const B = shape[0]!;
  return TrainStep.create(
    (p, b) =>
      withParams(model, p, () => {
        const fwd = () => model.forward(b.x_t, b.t, conditional ? b.labels : undefined);
        const out = dropoutDraws > 0 ? withDropoutNoise(b.dropout_u, fwd) : fwd();
        return edm ? edmLoss(out, b) : diffusionLoss(out, b, objective as DiffusionObjective);
      }),
    params,
    [
      ...objective.batchSpecs(shape),
      ...(conditional ? [{ name: 'labels', shape: [B] }] : []),
      ...(dropoutDraws > 0 ? [{ name: 'dropout_u', shape: [dropoutDraws] }] : []),
    ],
    {
      optimizer: { beta1: c.beta1, beta2: c.beta2, weightDecay: c.weightDecay },
      maxGradNorm: c.maxGradNorm ?? undefined,
      gradAccumSteps: c.gradAccumSteps,
    },
  );
}

/** What a save of a training run holds (see saveRun). */
interface RunState {
  modelConfig: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  desc: DataDescription;
  data: DataSource;
  noiseRng: Philox;
  dropRng: Philox;
  ema: Ema | null;
  losses: number[];
  ts: TrainStep;
}

/**
 * One save of a run (folders/commit.ts orders the writes): the model users sample (EMA weights when
 * EMA is on) with its diffuse.json, and the checkpoint with everything resume needs. Returns the
 * checkpoint's folder.
 */
function saveRun(outDir: string, step: number, c: TrainConfig, nullClass: number | null, r: RunState): string {
  const runInfo = { data: r.desc, nullClass: c.labelDropout > 0 ? nullClass : null, step };
  return commitTrainingSave(outDir, {
    step,
    keepLast: c.keepLast,
    model: {
      modelConfig: r.modelConfig,
      schedulerConfig: r.schedulerConfig,
      weights: r.ema ? r.ema.params : r.ts.params,
      info: runInfo,
    },
    checkpoint: {
      step,
      modelConfig: r.modelConfig,
      schedulerConfig: r.schedulerConfig,
      params: r.ts.params,
      ema: r.ema?.params,
      optimizer: { m: r.ts.m, v: r.ts.v, t: r.ts.t },
      trainerState: {
        modelConfig: r.modelConfig,
        trainConfig: c,
        data: r.data.state(),
        dataDescription: r.desc,
        noiseRng: r.noiseRng.state(),
        dropRng: r.dropRng.state(),
        emaStep: r.ema?.step ?? 0,
        losses: r.losses,
        runInfo,
      },
    },
  });
}

function allFinite(params: Record<string, NDArray>): boolean {
  for (const a of Object.values(params)) {
    const d = a.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  }
  return true;
}
