/**
 * A noisy classifier on disk: DIR/config.json (the NoisyClassifier config, plus `noise_schedule`, the
 * diffusion model's DDPM scheduler config it was trained on, and training notes) and
 * DIR/diffusion_pytorch_model.safetensors (float32 weights). Written by `diffuse train-classifier`,
 * read by `diffuse sample --classifier` style callers (src/cli/edit_commands.ts). Node only.
 *
 * @example
 *   saveNoisyClassifier('runs/clf', net.config, weights, { noiseSchedule: schedulerConfig });
 *   const { clf, noiseSchedule } = loadNoisyClassifier('runs/clf');
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { readWeights, writeWeights } from '../folders/weights.ts';
import { checkParams } from '../nn/module.ts';
import {
  NoisyClassifier,
  validateNoisyClassifierConfig,
  type NoisyClassifierConfig,
} from '../models/noisy_classifier.ts';
import { ClassifierGradient } from './classifier_guidance.ts';

/** Save config.json and the weights (atomic writes). @example saveNoisyClassifier(dir, cfg, w, { noiseSchedule }) */
export function saveNoisyClassifier(
  dir: string,
  config: NoisyClassifierConfig,
  weights: Record<string, NDArray>,
  meta: { noiseSchedule: Record<string, unknown>; training?: Record<string, unknown> },
): void {
  fs.mkdirSync(dir, { recursive: true });
  const json = { ...config, noise_schedule: meta.noiseSchedule, _training: meta.training ?? {} };
  writeFileAtomicSync(path.join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeWeights(dir, weights);
}

/** Load a classifier folder (config and weights validated). @example const { clf } = loadNoisyClassifier('runs/clf') */
export function loadNoisyClassifier(dir: string): {
  clf: ClassifierGradient;
  config: NoisyClassifierConfig;
  noiseSchedule: Record<string, unknown>;
} {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file))
    throw new Error(`--classifier ${dir}: no config.json (write one with \`diffuse train-classifier --out ${dir}\`)`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const { noise_schedule: noiseSchedule, ...rest } = json;
  if (noiseSchedule === null || typeof noiseSchedule !== 'object')
    throw new Error(`${file}: noise_schedule must be the DDPM scheduler config the classifier was trained on`);
  const config = validateNoisyClassifierConfig(rest, file);
  const net = new NoisyClassifier(config);
  const { weights, files } = readWeights(dir);
  checkParams(net, weights, files[0]);
  return { clf: new ClassifierGradient(net, weights), config, noiseSchedule: noiseSchedule as Record<string, unknown> };
}
