/** `diffuse info DIR` and `diffuse export DIR --onnx FILE`. */
import fs from 'node:fs';
import path from 'node:path';
import { toOnnx } from '../engine/index.ts';
import { optimizeGraph } from '../engine/optimize/index.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { listCheckpoints } from '../training/checkpoint.ts';
import { loadTrainedModel } from '../pipelines/sample_model.ts';
import { modelSampleShape, traceDenoiser, isClassConditional } from '../pipelines/denoiser.ts';

export function infoCommand(dir: string): void {
  const m = loadTrainedModel(dir);
  const cfg = m.model.toConfig() as unknown as Record<string, unknown>;
  const out = {
    folder: path.resolve(dir),
    model: cfg._class_name,
    parameters: m.model.numParameters(),
    sample_shape: modelSampleShape(m.model),
    class_conditional: isClassConditional(m.model),
    trained_steps: m.info?.step ?? null,
    data: m.info?.data ?? null,
    classifier_free_guidance: m.info?.nullClass !== null && m.info?.nullClass !== undefined,
    noise_schedule: m.schedulerConfig,
    checkpoints: listCheckpoints(dir),
    config: cfg,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

export async function exportCommand(dir: string, file: string): Promise<void> {
  if (path.extname(file).toLowerCase() !== '.onnx') throw new Error(`--onnx ${file}: the file name must end in .onnx`);
  const m = loadTrainedModel(dir);
  // the engine's clean-up passes (CSE, constant folding, exact simplifications), as compile() runs them
  const g = optimizeGraph(traceDenoiser(m.model, m.weights, modelSampleShape(m.model), 'batch')).graph;
  const bytes = toOnnx(g, {
    name: String((m.model.toConfig() as unknown as Record<string, unknown>)._class_name),
    metadata: { config: JSON.stringify(m.model.toConfig()), scheduler_config: JSON.stringify(m.schedulerConfig), producer: 'diffuse' },
  });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomicSync(file, bytes);
  const inputs = g.inputs.map((v) => `${v.name} [${v.shape.join(', ')}]`).join(', ');
  process.stderr.write(`wrote ${file} (${(bytes.length / 1e6).toFixed(2)} MB, opset 17): inputs ${inputs} -> out_sample\n`);
}
