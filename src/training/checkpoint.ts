/**
 * Checkpoints in the diffusers folder layout.
 *
 *   OUT/                                   the model a user samples (diffusers layout)
 *     config.json                          model config (diffusers keys, `_class_name`)
 *     diffusion_pytorch_model.safetensors  weights (the EMA weights when EMA is on)
 *     scheduler_config.json                the training noise schedule
 *   OUT/checkpoint-<step>/                 everything needed to resume
 *     config.json, diffusion_pytorch_model.safetensors (raw weights), scheduler_config.json,
 *     ema.safetensors, optimizer.safetensors (AdamW m.*, v.*), trainer_state.json (step, RNG,
 *     data order, loss history, training config)
 *
 * Every folder is written to a temporary name, fsynced and renamed (atomic), so a checkpoint is
 * complete or absent. Pruning keeps the last K and never deletes the newest complete one (nor the
 * one just written). A hard kill can leave temporaries behind (`.checkpoint-N.<pid>.<n>.tmpdir`,
 * `checkpoint-N.old-<pid>-<n>`, `.<file>.<pid>.<n>.tmp`): they are never read as checkpoints, and
 * `cleanStaleTemporaries` (called when training starts) removes those of dead processes.
 *
 * Test hook (environment, for the kill tests only): DIFFUSE_TEST_PAUSE_IN_CHECKPOINT="<step>:<file>"
 * makes the writer of checkpoint-<step> stop halfway through its temporary folder (after the weights,
 * before the optimizer state and trainer_state.json), write <file> and sleep 60 s, so a test can
 * SIGKILL it in the middle of a checkpoint write.
 *
 * @example
 *   saveCheckpoint('runs/mnist', { step: 100, ... });
 *   const ck = loadCheckpoint(latestCheckpoint('runs/mnist')!);
 */
import fs from 'node:fs';
import path from 'node:path';
import { NDArray } from '../engine/index.ts';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.ts';
import { writeDirAtomicSync, writeFileAtomicSync } from '../io/atomic.ts';
import { readModelConfigFile, readSchedulerConfigFile } from './config_files.ts';

export const WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';
export const CONFIG_NAME = 'config.json';
export const SCHEDULER_CONFIG_NAME = 'scheduler_config.json';
export const TRAINER_STATE_NAME = 'trainer_state.json';

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

function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/** Write OUT/checkpoint-<step> atomically, then prune to the last `keepLast`. Returns its path. */
export function saveCheckpoint(outDir: string, ck: CheckpointData, keepLast = 3): string {
  fs.mkdirSync(outDir, { recursive: true });
  const target = path.join(outDir, checkpointName(ck.step));
  writeDirAtomicSync(target, (tmp) => {
    fs.writeFileSync(path.join(tmp, CONFIG_NAME), json(ck.modelConfig));
    fs.writeFileSync(path.join(tmp, SCHEDULER_CONFIG_NAME), json(ck.schedulerConfig));
    fs.writeFileSync(path.join(tmp, WEIGHTS_NAME), serializeSafetensors(ck.params, { format: 'pt' }));
    if (ck.ema) fs.writeFileSync(path.join(tmp, 'ema.safetensors'), serializeSafetensors(ck.ema, { format: 'pt' }));
    testPauseInCheckpoint(ck.step, tmp);
    if (ck.optimizer) {
      const t: Record<string, NDArray> = {};
      for (const [k, v] of Object.entries(ck.optimizer.m)) t[`m.${k}`] = v;
      for (const [k, v] of Object.entries(ck.optimizer.v)) t[`v.${k}`] = v;
      fs.writeFileSync(path.join(tmp, 'optimizer.safetensors'), serializeSafetensors(t, { t: String(ck.optimizer.t) }));
    }
    fs.writeFileSync(path.join(tmp, TRAINER_STATE_NAME), json({ step: ck.step, ...ck.trainerState }));
  });
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

/** Steps of the complete checkpoints in OUT, ascending. Temporary folders are ignored. */
export function listCheckpoints(outDir: string): number[] {
  if (!fs.existsSync(outDir)) return [];
  return fs.readdirSync(outDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(outDir, m[0], TRAINER_STATE_NAME)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Path of the newest complete checkpoint, or null. */
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
    fs.rmSync(path.join(outDir, checkpointName(s)), { recursive: true, force: true });
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false; // called before this process writes anything: a recycled pid's leftovers
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Remove what a killed writer left in OUT (and OUT/samples): temporary checkpoint folders, temporary
 * files of atomic writes, and `checkpoint-N.old-*` folders of an interrupted replacement (renamed back
 * to checkpoint-N when that is missing and the old one is complete). Only leftovers of processes that
 * are no longer alive are touched. Call it before this process writes into OUT. Returns what it did.
 * @example cleanStaleTemporaries('runs/moons') // ['removed .checkpoint-40.1234.7.tmpdir']
 */
export function cleanStaleTemporaries(outDir: string): string[] {
  const done: string[] = [];
  for (const dir of [outDir, path.join(outDir, 'samples')]) {
    let names: string[];
    try { names = fs.readdirSync(dir); } catch { continue; }
    for (const name of names) {
      const p = path.join(dir, name);
      const tmp = /^\..+\.(\d+)\.\d+\.(tmp|tmpdir)$/.exec(name);
      const old = dir === outDir ? /^(checkpoint-\d+)\.old-(\d+)-\d+$/.exec(name) : null;
      if (tmp && !pidAlive(Number(tmp[1]))) {
        fs.rmSync(p, { recursive: true, force: true });
        done.push(`removed ${name}`);
      } else if (old && !pidAlive(Number(old[2]))) {
        const target = path.join(outDir, old[1]);
        if (!fs.existsSync(target) && fs.existsSync(path.join(p, TRAINER_STATE_NAME))) {
          fs.renameSync(p, target);
          done.push(`restored ${old[1]} from ${name}`);
        } else {
          fs.rmSync(p, { recursive: true, force: true });
          done.push(`removed ${name}`);
        }
      }
    }
  }
  return done;
}

/**
 * Load the newest checkpoint of OUT that reads back; a newer one that does not (damaged by the disk,
 * edited by hand) is reported through `warn` and the one before it is tried. Null if OUT has none.
 * @example const last = loadLatestCheckpoint('runs/moons', console.warn); // { dir, data } | null
 */
export function loadLatestCheckpoint(outDir: string, warn: (msg: string) => void = () => {}): { dir: string; data: CheckpointData } | null {
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
  if (first) throw new Error(`no checkpoint in ${outDir} can be loaded; the newest failed with: ${first.message}`, { cause: first });
  return null;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

function readTensors(file: string): Record<string, NDArray> {
  const f = readSafetensors(file, { source: `checkpoint ${file}` });
  return Object.fromEntries(f.toNDArrays());
}

/** Read a checkpoint folder written by saveCheckpoint. */
export function loadCheckpoint(dir: string): CheckpointData {
  const state = readJson(path.join(dir, TRAINER_STATE_NAME));
  const out: CheckpointData = {
    step: Number(state.step),
    modelConfig: readModelConfigFile(path.join(dir, CONFIG_NAME)),
    schedulerConfig: readSchedulerConfigFile(path.join(dir, SCHEDULER_CONFIG_NAME)),
    params: readTensors(path.join(dir, WEIGHTS_NAME)),
    trainerState: state,
  };
  if (fs.existsSync(path.join(dir, 'ema.safetensors'))) out.ema = readTensors(path.join(dir, 'ema.safetensors'));
  const opt = path.join(dir, 'optimizer.safetensors');
  if (fs.existsSync(opt)) {
    const f = readSafetensors(opt, { source: `checkpoint ${opt}` });
    const m: Record<string, NDArray> = {}, v: Record<string, NDArray> = {};
    for (const [k, a] of f.toNDArrays()) {
      if (k.startsWith('m.')) m[k.slice(2)] = a;
      else if (k.startsWith('v.')) v[k.slice(2)] = a;
    }
    out.optimizer = { m, v, t: Number(f.metadata.get('t') ?? 0) };
  }
  return out;
}

/** Write the sampling model (diffusers layout) into OUT itself: config, weights, scheduler config. */
export function saveModelFolder(outDir: string, modelConfig: Record<string, unknown>, weights: Record<string, NDArray>, schedulerConfig: Record<string, unknown>, metadata: Record<string, string> = {}): void {
  fs.mkdirSync(outDir, { recursive: true });
  // One atomic folder swap would move the checkpoints too; write each file atomically instead.
  writeFileAtomicSync(path.join(outDir, CONFIG_NAME), json(modelConfig));
  writeFileAtomicSync(path.join(outDir, SCHEDULER_CONFIG_NAME), json(schedulerConfig));
  writeFileAtomicSync(path.join(outDir, WEIGHTS_NAME), serializeSafetensors(weights, { format: 'pt', ...metadata }));
}

/** Read a diffusers-layout model folder (OUT or a checkpoint). */
export function loadModelFolder(dir: string): { modelConfig: Record<string, unknown>; schedulerConfig: Record<string, unknown>; weights: Record<string, NDArray> } {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such model folder`);
  const weightsFile = path.join(dir, WEIGHTS_NAME);
  if (!fs.existsSync(weightsFile)) {
    const latest = latestCheckpoint(dir);
    if (latest) return loadModelFolder(latest);
    throw new Error(`${dir}: no ${WEIGHTS_NAME} (is this a diffuse/diffusers model folder?)`);
  }
  return {
    modelConfig: readModelConfigFile(path.join(dir, CONFIG_NAME)),
    schedulerConfig: readSchedulerConfigFile(path.join(dir, SCHEDULER_CONFIG_NAME)),
    weights: readTensors(weightsFile),
  };
}
