/**
 * The commit protocol of a training run's saves: the model the user sees (the top-level pipeline
 * folder) is never older than the newest checkpoint, and --resume repairs it when it is.
 *
 * A save of step N writes, in this order, each file atomically (temporary + fsync + rename):
 *   1. the top-level model: unet/config.json, unet/diffusion_pytorch_model.safetensors (EMA weights,
 *      metadata step=N), scheduler/scheduler_config.json, model_index.json;
 *   2. diffuse.json with step N — the last file of the model: weights step = diffuse.json step
 *      means the model files are of one save;
 *   3. checkpoint-N (a folder built aside, then renamed into place);
 *   4. pruning of older checkpoints (the newest complete one is never deleted).
 * Invariant after a crash or a full disk at any of these operations: the newest complete checkpoint
 * S is not newer than the top-level model, so a model is never lost at the final save (earlier,
 * checkpoint-N was renamed first and a kill before the model write left an old model that --resume
 * reported "done" on). The model may be one save ahead of S (a crash in 3): --resume continues from
 * S, and a training run is deterministic, so it rewrites the same bytes.
 *
 * `verifyTopLevelModel` checks a folder against its newest good checkpoint, `repairTopLevelModel`
 * rewrites the model from that checkpoint when they disagree (the model is missing, unreadable, of
 * mixed saves, or older than S) — `train --resume` does both before anything else.
 *
 * @example
 *   commitTrainingSave('runs/a', { step: 300, keepLast: 2, model: { modelConfig, schedulerConfig, weights: ema, info }, checkpoint });
 *   const found = resumeLatestCheckpoint('runs/a', warn); // loads checkpoint-S, repairs the model if needed
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import { faultPoint } from '../io/atomic.ts';
import { loadLatestCheckpoint, pruneCheckpoints, writeCheckpoint, type CheckpointData } from './checkpoint.ts';
import { detectLayout } from './layout.ts';
import { readRunInfo, type RunInfo } from './run_info.ts';
import { weightsMetadata } from './weights.ts';
import { writeModelFolder, type ModelFiles } from './model_folder.ts';
import { installFaultInjectionFromEnv } from './fault_injection.ts';
import { CONFIG_NAME, SCHEDULER_CONFIG_NAME, WEIGHTS_NAME } from './names.ts';
import { readModelConfigFile, readSchedulerConfigFile } from './config_files.ts';

/** One save of a training run. */
export interface TrainingSave {
  step: number;
  /** Checkpoints to keep (at least 1). */
  keepLast: number;
  /** The model the user samples (the EMA weights when EMA is on) and its diffuse.json. */
  model: ModelFiles & { info: RunInfo };
  checkpoint: CheckpointData;
}

/** diffuse's earlier flat layout files at the top of a run folder (replaced by the pipeline layout on the next save). */
const FLAT_FILES = [WEIGHTS_NAME, CONFIG_NAME, SCHEDULER_CONFIG_NAME];

/**
 * Write one save in the order of the file comment. Returns the checkpoint's path.
 * @example commitTrainingSave('runs/a', { step, keepLast: 2, model, checkpoint })
 */
export function commitTrainingSave(outDir: string, s: TrainingSave): string {
  installFaultInjectionFromEnv();
  writeModelFolder(
    outDir,
    { ...s.model, info: { ...s.model.info, step: s.step } },
    { metadata: { step: String(s.step) } },
  );
  // A run begun before the pipeline layout: its flat model files go once the pipeline model is complete.
  for (const f of FLAT_FILES) {
    const p = path.join(outDir, f);
    if (fs.existsSync(p)) {
      faultPoint('remove', p);
      fs.rmSync(p, { force: true });
    }
  }
  const ck = writeCheckpoint(outDir, { ...s.checkpoint, step: s.step });
  pruneCheckpoints(outDir, s.keepLast, s.step);
  return ck;
}

/** The step of the top-level model of a run folder (weights metadata and diffuse.json agree), or why not. */
export function topLevelModelStep(outDir: string): { step: number } | { problem: string } {
  try {
    const layout = detectLayout(outDir);
    if (layout.kind !== 'pipeline' && layout.kind !== 'diffuse')
      return { problem: `the folder has a ${layout.kind} layout` };
    readModelConfigFile(path.join(layout.modelDir, CONFIG_NAME));
    if (layout.schedulerConfigFile) readSchedulerConfigFile(layout.schedulerConfigFile);
    const w = weightsMetadata(layout.weights.file, 'step');
    if (w === null) return { problem: `${layout.weights.file} is unreadable or has no step` };
    const info = readRunInfo(outDir);
    if (!info) return { problem: 'diffuse.json is missing' };
    if (String(info.step) !== w)
      return { problem: `the weights are of step ${w} but diffuse.json says ${info.step} (an interrupted save)` };
    return { step: info.step };
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

/**
 * Check the top-level model against the newest good checkpoint (step S): fine when it is complete,
 * of one save, and not older than S. @example verifyTopLevelModel('runs/a', 300) // { ok: true }
 */
export function verifyTopLevelModel(
  outDir: string,
  checkpointStep: number,
): { ok: true } | { ok: false; problem: string } {
  const r = topLevelModelStep(outDir);
  if ('problem' in r) return { ok: false, problem: r.problem };
  if (r.step < checkpointStep)
    return { ok: false, problem: `the model is of step ${r.step}, older than checkpoint-${checkpointStep}` };
  return { ok: true };
}

/** The model files a checkpoint stands for: its EMA weights (else raw), configs, diffuse.json. */
export function modelFilesOfCheckpoint(ck: CheckpointData): ModelFiles & { info: RunInfo | null } {
  const st = ck.trainerState as {
    runInfo?: RunInfo;
    dataDescription?: RunInfo['data'];
    trainConfig?: { labelDropout?: number };
  };
  let info: RunInfo | null = st.runInfo ? { ...st.runInfo, step: ck.step } : null;
  if (!info && st.dataDescription) {
    const n = (ck.modelConfig as { num_class_embeds?: number | null }).num_class_embeds;
    const nullClass = (st.trainConfig?.labelDropout ?? 0) > 0 && typeof n === 'number' && n > 0 ? n - 1 : null;
    info = { data: st.dataDescription, nullClass, step: ck.step };
  }
  const weights: Record<string, NDArray> = ck.ema ?? ck.params;
  return { modelConfig: ck.modelConfig, schedulerConfig: ck.schedulerConfig, weights, info };
}

/**
 * Rewrite the top-level model of a run folder from a checkpoint when verifyTopLevelModel finds a
 * problem; returns a one-line report of the repair, or null when the model was fine.
 * @example repairTopLevelModel('runs/a', loadLatestCheckpoint('runs/a')!) // 'repaired ... from checkpoint-300 (...)'
 */
export function repairTopLevelModel(outDir: string, found: { dir: string; data: CheckpointData }): string | null {
  const v = verifyTopLevelModel(outDir, found.data.step);
  if (v.ok) return null;
  installFaultInjectionFromEnv();
  const files = modelFilesOfCheckpoint(found.data);
  writeModelFolder(outDir, files, { metadata: { step: String(found.data.step) } });
  for (const f of FLAT_FILES) fs.rmSync(path.join(outDir, f), { force: true });
  return `${outDir}: restored the model from ${path.basename(found.dir)} (${v.problem})`;
}

/**
 * What --resume starts from: the newest checkpoint that loads (a damaged newer one is reported
 * through `warn`), with the top-level model verified and repaired from it, and the pruning of an
 * interrupted save redone (to `keepLast`, when given). Null if there is none.
 * @example const found = resumeLatestCheckpoint('runs/a', warn, 2); found?.data.step
 */
export function resumeLatestCheckpoint(
  outDir: string,
  warn: (msg: string) => void = () => {},
  keepLast?: number,
): { dir: string; data: CheckpointData } | null {
  const found = loadLatestCheckpoint(outDir, warn);
  if (!found) return null;
  const repaired = repairTopLevelModel(outDir, found);
  if (repaired) warn(repaired);
  if (keepLast !== undefined) pruneCheckpoints(outDir, keepLast, found.data.step);
  return found;
}
