/**
 * Checkpoints of a training run: OUT/checkpoint-<step>/ holds everything needed to resume.
 *
 *   checkpoint-<step>/
 *     config.json, scheduler_config.json     the model and the training noise schedule
 *     diffusion_pytorch_model.safetensors    the raw (non-EMA) weights
 *     ema.safetensors                        the EMA weights (when EMA is on)
 *     optimizer.safetensors                  AdamW moments m.*, v.* (metadata t)
 *     trainer_state.json                     step, RNG streams, data order, loss history, configs
 *
 * A checkpoint is written into a temporary folder (`.checkpoint-N.<writer tag>.<n>.tmpdir`), every
 * file fsynced, then renamed into place: it is complete or absent, and trainer_state.json (written
 * last) marks it complete. Pruning keeps the last K and never deletes the newest complete one (nor
 * the one just written). How a checkpoint and the top-level model are ordered: commit.ts.
 *
 * Test hook (environment, for the kill tests only): DIFFUSE_TEST_PAUSE_IN_CHECKPOINT="<step>:<file>"
 * makes the writer of checkpoint-<step> stop halfway through its temporary folder (after the weights,
 * before the optimizer state and trainer_state.json), write <file> and sleep 60 s, so a test can
 * SIGKILL it in the middle of a checkpoint write. Every file write is also a fault point
 * (fault_injection.ts).
 *
 * @example
 *   saveCheckpoint('runs/mnist', { step: 100, ... });
 *   const ck = loadCheckpoint(latestCheckpoint('runs/mnist')!);
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.ts';
import { faultPoint, writeDirAtomicSync } from '../io/atomic.ts';
import { readJsonObject, readModelConfigFile, readSchedulerConfigFile } from './config_files.ts';
import {
  CONFIG_NAME,
  EMA_WEIGHTS_NAME,
  OPTIMIZER_NAME,
  SCHEDULER_CONFIG_NAME,
  TRAINER_STATE_NAME,
  WEIGHTS_NAME,
  checkpointName,
} from './names.ts';

export { CONFIG_NAME, SCHEDULER_CONFIG_NAME, TRAINER_STATE_NAME, WEIGHTS_NAME };

export interface CheckpointData {
  step: number;
  modelConfig: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  params: Record<string, NDArray>;
  ema?: Record<string, NDArray>;
  optimizer?: { m: Record<string, NDArray>; v: Record<string, NDArray>; t: number };
  /** JSON-able trainer state (RNG, data order, losses, config ...). */
  trainerState: Record<string, unknown>;
}

const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

function writeInto(dir: string, name: string, data: string | Uint8Array): void {
  const file = path.join(dir, name);
  faultPoint('write', file);
  fs.writeFileSync(file, data);
}

/**
 * Write OUT/checkpoint-<step> atomically (nothing else), without pruning. Returns its path.
 * @example writeCheckpoint('runs/a', ck)
 */
export function writeCheckpoint(outDir: string, ck: CheckpointData): string {
  fs.mkdirSync(outDir, { recursive: true });
  const target = path.join(outDir, checkpointName(ck.step));
  writeDirAtomicSync(target, (tmp) => {
    writeInto(tmp, CONFIG_NAME, json(ck.modelConfig));
    writeInto(tmp, SCHEDULER_CONFIG_NAME, json(ck.schedulerConfig));
    writeInto(tmp, WEIGHTS_NAME, serializeSafetensors(ck.params, { format: 'pt' }));
    if (ck.ema) writeInto(tmp, EMA_WEIGHTS_NAME, serializeSafetensors(ck.ema, { format: 'pt' }));
    testPauseInCheckpoint(ck.step, tmp);
    if (ck.optimizer) {
      const t: Record<string, NDArray> = {};
      for (const [k, v] of Object.entries(ck.optimizer.m)) t[`m.${k}`] = v;
      for (const [k, v] of Object.entries(ck.optimizer.v)) t[`v.${k}`] = v;
      writeInto(tmp, OPTIMIZER_NAME, serializeSafetensors(t, { t: String(ck.optimizer.t) }));
    }
    writeInto(tmp, TRAINER_STATE_NAME, json({ step: ck.step, ...ck.trainerState }));
  });
  return target;
}

/** Write OUT/checkpoint-<step> atomically, then prune to the last `keepLast`. Returns its path. @example saveCheckpoint('runs/a', ck, 2) */
export function saveCheckpoint(outDir: string, ck: CheckpointData, keepLast = 3): string {
  const target = writeCheckpoint(outDir, ck);
  pruneCheckpoints(outDir, keepLast, ck.step);
  return target;
}

/** The DIFFUSE_TEST_PAUSE_IN_CHECKPOINT hook (see the file comment); a no-op unless the variable is set. */
function testPauseInCheckpoint(step: number, tmpDir: string): void {
  const m = /^(\d+):(.+)$/.exec(process.env.DIFFUSE_TEST_PAUSE_IN_CHECKPOINT ?? '');
  if (!m || Number(m[1]) !== step) return;
  fs.writeFileSync(m[2], tmpDir);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
}

/** Steps of the complete checkpoints in OUT, ascending. Temporary folders are ignored. @example listCheckpoints('runs/a') // [200, 300] */
export function listCheckpoints(outDir: string): number[] {
  if (!fs.existsSync(outDir)) return [];
  return fs
    .readdirSync(outDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(outDir, m[0], TRAINER_STATE_NAME)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Path of the newest complete checkpoint, or null. @example latestCheckpoint('runs/a') // 'runs/a/checkpoint-300' */
export function latestCheckpoint(outDir: string): string | null {
  const steps = listCheckpoints(outDir);
  return steps.length ? path.join(outDir, checkpointName(steps[steps.length - 1])) : null;
}

/**
 * Delete all but the newest `keepLast` complete checkpoints. Never deletes the newest complete one
 * (keepLast < 1 counts as 1), nor checkpoint-`protect` (the one just written). Incomplete folders
 * (no trainer_state.json) do not count as checkpoints and are left alone.
 * @example pruneCheckpoints('runs/moons', 2, 3000)
 */
export function pruneCheckpoints(outDir: string, keepLast: number, protect?: number): void {
  const k = Math.max(1, Math.floor(keepLast) || 1);
  const steps = listCheckpoints(outDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - k))) {
    if (s === protect) continue;
    const dir = path.join(outDir, checkpointName(s));
    faultPoint('remove', dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Load the newest checkpoint of OUT that reads back; a newer one that does not (damaged by the disk,
 * edited by hand) is reported through `warn` and the one before it is tried. Null if OUT has none.
 * @example const last = loadLatestCheckpoint('runs/moons', console.warn); // { dir, data } | null
 */
export function loadLatestCheckpoint(
  outDir: string,
  warn: (msg: string) => void = () => {},
): { dir: string; data: CheckpointData } | null {
  const steps = listCheckpoints(outDir).reverse();
  let first: Error | null = null;
  for (const s of steps) {
    const dir = path.join(outDir, checkpointName(s));
    try {
      return { dir, data: loadCheckpoint(dir) };
    } catch (e) {
      first ??= e as Error;
      warn(`${dir} cannot be loaded (${(e as Error).message}); trying the checkpoint before it`);
    }
  }
  if (first)
    throw new Error(`no checkpoint in ${outDir} can be loaded; the newest failed with: ${first.message}`, {
      cause: first,
    });
  return null;
}

function readTensors(file: string): Record<string, NDArray> {
  const f = readSafetensors(file, { source: `checkpoint ${file}` });
  return Object.fromEntries(f.toNDArrays());
}

/** Read a checkpoint folder written by saveCheckpoint. @example loadCheckpoint('runs/a/checkpoint-300').step */
export function loadCheckpoint(dir: string): CheckpointData {
  const state = readJsonObject(path.join(dir, TRAINER_STATE_NAME));
  const out: CheckpointData = {
    step: Number(state.step),
    modelConfig: readModelConfigFile(path.join(dir, CONFIG_NAME)),
    schedulerConfig: readSchedulerConfigFile(path.join(dir, SCHEDULER_CONFIG_NAME)),
    params: readTensors(path.join(dir, WEIGHTS_NAME)),
    trainerState: state,
  };
  if (fs.existsSync(path.join(dir, EMA_WEIGHTS_NAME))) out.ema = readTensors(path.join(dir, EMA_WEIGHTS_NAME));
  const opt = path.join(dir, OPTIMIZER_NAME);
  if (fs.existsSync(opt)) {
    const f = readSafetensors(opt, { source: `checkpoint ${opt}` });
    const m: Record<string, NDArray> = {},
      v: Record<string, NDArray> = {};
    for (const [k, a] of f.toNDArrays()) {
      if (k.startsWith('m.')) m[k.slice(2)] = a;
      else if (k.startsWith('v.')) v[k.slice(2)] = a;
    }
    out.optimizer = { m, v, t: Number(f.metadata.get('t') ?? 0) };
  }
  return out;
}
