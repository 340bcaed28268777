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
 * complete or absent. Pruning keeps the last K and never deletes the newest complete one.
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
    if (ck.optimizer) {
      const t: Record<string, NDArray> = {};
      for (const [k, v] of Object.entries(ck.optimizer.m)) t[`m.${k}`] = v;
      for (const [k, v] of Object.entries(ck.optimizer.v)) t[`v.${k}`] = v;
      fs.writeFileSync(path.join(tmp, 'optimizer.safetensors'), serializeSafetensors(t, { t: String(ck.optimizer.t) }));
    }
    fs.writeFileSync(path.join(tmp, TRAINER_STATE_NAME), json({ step: ck.step, ...ck.trainerState }));
  });
  pruneCheckpoints(outDir, keepLast);
  return target;
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

/** Delete all but the newest `keepLast` complete checkpoints (never the newest). */
export function pruneCheckpoints(outDir: string, keepLast: number): void {
  const k = Math.max(1, Math.floor(keepLast));
  const steps = listCheckpoints(outDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - k))) {
    fs.rmSync(path.join(outDir, checkpointName(s)), { recursive: true, force: true });
  }
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
    modelConfig: readJson(path.join(dir, CONFIG_NAME)),
    schedulerConfig: readJson(path.join(dir, SCHEDULER_CONFIG_NAME)),
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
    modelConfig: readJson(path.join(dir, CONFIG_NAME)),
    schedulerConfig: readJson(path.join(dir, SCHEDULER_CONFIG_NAME)),
    weights: readTensors(weightsFile),
  };
}
