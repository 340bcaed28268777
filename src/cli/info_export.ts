/**
 * `diffuse info DIR` (what a model folder holds: its layout, weights dtypes, scheduler, run) and
 * `diffuse export DIR --onnx FILE | --out FOLDER [--dtype fp16]` (a standalone ONNX denoiser, or the
 * model re-written as a diffusers pipeline folder: any layout in, DDPMPipeline's layout out).
 */
import fs from 'node:fs';
import path from 'node:path';
import { toOnnx } from '../engine/index.ts';
import { optimizeGraph } from '../engine/optimize/index.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import {
  folderHoldsModel,
  listCheckpoints,
  loadPipelineFolder,
  parseWeightsDtype,
  withFileLock,
  withFolderLock,
  writeModelFolder,
} from '../folders/index.ts';
import { checkOutputFile, checkOutputFolder } from './output_paths.ts';
import { modelSampleShape, traceDenoiser, isClassConditional } from '../pipelines/denoiser.ts';

/** What `diffuse info` prints (JSON). @example infoOf('runs/a').layout // 'pipeline' */
export function infoOf(dir: string): Record<string, unknown> {
  const m = loadPipelineFolder(dir);
  const f = m.folder!;
  const cfg = m.model.toConfig() as unknown as Record<string, unknown>;
  return {
    folder: path.resolve(dir),
    layout: f.layout.kind,
    pipeline_class: f.layout.pipelineClass,
    model_folder: path.relative(path.resolve(dir), path.resolve(f.layout.modelDir)) || '.',
    weights: {
      files: f.weightsFiles.map((p) => path.relative(path.resolve(dir), path.resolve(p))),
      dtypes: f.weightsDtypes,
      sharded: f.layout.weights.kind === 'sharded',
      variant: f.layout.weights.variant,
    },
    scheduler_config: f.layout.schedulerConfigFile
      ? path.relative(path.resolve(dir), path.resolve(f.layout.schedulerConfigFile))
      : 'default (DDPMScheduler, linear betas 0.0001..0.02, 1000 steps)',
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
}

export function infoCommand(dir: string): void {
  process.stdout.write(`${JSON.stringify(infoOf(dir), null, 2)}\n`);
}

export interface ExportCliOptions {
  onnx?: string;
  out?: string;
  dtype?: string;
}

export async function exportCommand(dir: string, o: ExportCliOptions | string): Promise<void> {
  const opts: ExportCliOptions = typeof o === 'string' ? { onnx: o } : o;
  if (!opts.onnx && !opts.out)
    throw new Error(
      'export: pass --onnx <file.onnx> (a standalone denoiser) and/or --out <folder> (a diffusers pipeline folder)',
    );
  if (opts.onnx && path.extname(opts.onnx).toLowerCase() !== '.onnx')
    throw new Error(`--onnx ${opts.onnx}: the file name must end in .onnx`);
  if (opts.onnx !== undefined) checkOutputFile(opts.onnx, '--onnx', ['.onnx']);
  if (opts.out !== undefined) checkOutputFolder(opts.out, '--out');
  const dtype = opts.dtype === undefined ? 'float32' : parseWeightsDtype(opts.dtype);
  if (opts.dtype !== undefined && !opts.out)
    throw new Error(
      `--dtype ${opts.dtype}: applies to --out (the weights of a pipeline folder); the ONNX denoiser computes in float32`,
    );
  if (opts.out && path.resolve(opts.out) === path.resolve(dir))
    throw new Error(`--out ${opts.out}: is the folder being exported; choose another folder`);
  if (opts.out && fs.existsSync(opts.out) && !fs.statSync(opts.out).isDirectory())
    throw new Error(`--out ${opts.out}: exists and is not a folder`);
  if (opts.out && folderHoldsModel(opts.out))
    throw new Error(`--out ${opts.out} already holds a model; choose another folder (nothing was overwritten)`);
  const m = loadPipelineFolder(dir);
  if (opts.out) {
    const out = opts.out;
    await withFolderLock(out, 'export', () => {
      writeModelFolder(
        out,
        {
          modelConfig: m.model.toConfig() as unknown as Record<string, unknown>,
          schedulerConfig: m.schedulerConfig,
          weights: m.weights,
          info: m.info,
        },
        { dtype },
      );
    });
    process.stderr.write(
      `wrote ${out} (diffusers pipeline layout: model_index.json, unet/, scheduler/${m.info ? ', diffuse.json' : ''}; weights ${dtype === 'float16' ? 'fp16' : 'fp32'})\n`,
    );
  }
  if (opts.onnx) {
    const file = opts.onnx;
    // the engine's clean-up passes (CSE, constant folding, exact simplifications), as compile() runs them
    const g = optimizeGraph(traceDenoiser(m.model, m.weights, modelSampleShape(m.model), 'batch')).graph;
    const bytes = toOnnx(g, {
      name: String((m.model.toConfig() as unknown as Record<string, unknown>)._class_name),
      metadata: {
        config: JSON.stringify(m.model.toConfig()),
        scheduler_config: JSON.stringify(m.schedulerConfig),
        producer: 'diffuse',
      },
    });
    await withFileLock(file, 'export', () => writeFileAtomicSync(file, bytes));
    const inputs = g.inputs.map((v) => `${v.name} [${v.shape.join(', ')}]`).join(', ');
    process.stderr.write(
      `wrote ${file} (${(bytes.length / 1e6).toFixed(2)} MB, opset 17): inputs ${inputs} -> out_sample\n`,
    );
  }
}
