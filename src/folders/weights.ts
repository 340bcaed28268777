/**
 * A model's weights in a folder: find them (one safetensors file, sharded safetensors with an
 * index, a `.<variant>.safetensors` such as fp16), read them whatever their float dtype (F16, BF16,
 * F32, F64; diffuse computes in float32), and write them as float32 (default) or float16.
 *
 * Refused with one line naming the file: PyTorch pickles (`.bin`; never unpickled: loading a
 * pickle can run code), other dtypes (integers, 8-bit floats), shard indexes that name missing
 * files or tensors, and a folder without weights.
 *
 * Sharded weights follow Hugging Face's index format: `<name>.safetensors.index.json` holds
 * `{"metadata": {...}, "weight_map": {"tensor name": "shard file name"}}` and the shards lie beside it.
 *
 * @example
 *   const { weights, dtypes } = readWeights('google-ddpm/unet'); // dtypes e.g. ['F16']
 *   writeWeights('out/unet', weights, { dtype: 'float16' });
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NDArray } from '../engine/index.ts';
import {
  readSafetensors,
  serializeSafetensors,
  float32ToFloat16Bits,
  type SafetensorsDtype,
  type SafetensorsInput,
} from '../io/safetensors.ts';
import { writeFileAtomicSync } from '../io/atomic.ts';
import { warn } from '../io/warn.ts';
import { readJsonObject } from './config_files.ts';
import { WEIGHTS_INDEX_NAME, WEIGHTS_NAME } from './names.ts';

/** The safetensors dtypes accepted for model weights. */
export const WEIGHT_DTYPES: readonly SafetensorsDtype[] = ['F16', 'BF16', 'F32', 'F64'];

/** The dtypes diffuse writes weights in. */
export type WeightsDtype = 'float32' | 'float16';

/** Where a folder's weights are: one file, or an index and its shards. */
export interface WeightsLocation {
  kind: 'single' | 'sharded';
  /** The safetensors file, or the index JSON of sharded weights. */
  file: string;
  /** The variant (`fp16` of `diffusion_pytorch_model.fp16.safetensors`), if any. */
  variant: string | null;
}

// diffusers' variant names: diffusion_pytorch_model.<v>.safetensors, its shards diffusion_pytorch_model.<v>-0000k-of-0000n.safetensors
// and their index diffusion_pytorch_model.safetensors.index.<v>.json (diffusers' _add_variant).
const VARIANT =
  /^diffusion_pytorch_model\.([A-Za-z0-9_]+)(?:-\d+-of-\d+)?\.safetensors$|^diffusion_pytorch_model\.safetensors\.index\.([A-Za-z0-9_]+)\.json$/;
const PICKLE = /^diffusion_pytorch_model(\.[A-Za-z0-9_-]+)?\.bin(\.index\.json)?$|^pytorch_model\.bin$/;

/**
 * Find the weights of a model folder: `diffusion_pytorch_model.safetensors`, else its sharded
 * index, else the one variant there is (or `variant`): `diffusion_pytorch_model.<variant>.safetensors`
 * or the sharded `diffusion_pytorch_model.safetensors.index.<variant>.json`, as diffusers names them. Throws one line when there are none (and
 * names the `.bin` pickle when that is all there is).
 * @example locateWeights('ddpm-cifar10/unet') // { kind: 'single', file: '.../diffusion_pytorch_model.safetensors', variant: null }
 */
export function locateWeights(dir: string, variant?: string): WeightsLocation {
  const names = fs.readdirSync(dir);
  const want = variant
    ? [`diffusion_pytorch_model.${variant}.safetensors`, `diffusion_pytorch_model.safetensors.index.${variant}.json`]
    : [WEIGHTS_NAME, WEIGHTS_INDEX_NAME];
  for (const n of want) {
    if (names.includes(n))
      return { kind: n.endsWith('.json') ? 'sharded' : 'single', file: path.join(dir, n), variant: variant ?? null };
  }
  const variants = [
    ...new Set(
      names
        .map((n) => {
          const m = VARIANT.exec(n);
          return m?.[1] ?? m?.[2];
        })
        .filter((v): v is string => v !== undefined),
    ),
  ];
  if (!variant && variants.length === 1) return locateWeights(dir, variants[0]);
  if (!variant && variants.length > 1) {
    throw new Error(
      `${dir}: no ${WEIGHTS_NAME}, and several variants (${variants.join(', ')}); pick one with --variant`,
    );
  }
  const pickles = names.filter((n) => PICKLE.test(n));
  if (pickles.length) {
    throw new Error(
      `${dir}: only PyTorch pickle weights (${pickles.join(', ')}); diffuse never unpickles (a pickle can run code): convert them to safetensors, e.g. in Python: UNet2DModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`,
    );
  }
  throw new Error(
    `${dir}: no model weights (expected ${variant ? want[0] : WEIGHTS_NAME} or a sharded ${variant ? want[1] : WEIGHTS_INDEX_NAME})`,
  );
}

/** Read one safetensors weights file; every tensor must have a float dtype of WEIGHT_DTYPES. */
function readWeightsFile(
  file: string,
  into: Map<string, NDArray>,
  dtypes: Set<SafetensorsDtype>,
  only?: (name: string) => boolean,
): string[] {
  const f = readSafetensors(file, { source: file });
  const names: string[] = [];
  for (const [name, e] of f.entries) {
    if (only && !only(name)) continue;
    if (!WEIGHT_DTYPES.includes(e.dtype)) {
      throw new Error(
        `${file}: tensor ${JSON.stringify(name)} has dtype ${e.dtype}; model weights must be ${WEIGHT_DTYPES.join(', ')}`,
      );
    }
    dtypes.add(e.dtype);
    into.set(name, f.ndarray(name));
    names.push(name);
  }
  return names;
}

/** Read the shards named by an index file. */
function readSharded(index: string, into: Map<string, NDArray>, dtypes: Set<SafetensorsDtype>): string[] {
  const json = readJsonObject(index);
  const map = json.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new Error(
      `${index}: weight_map = ${JSON.stringify(map) ?? 'missing'} is invalid: expected an object of tensor name -> shard file`,
    );
  const byShard = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (
      typeof shard !== 'string' ||
      shard !== path.basename(shard) ||
      shard === '..' ||
      shard === '.' ||
      !shard.endsWith('.safetensors')
    ) {
      throw new Error(
        `${index}: weight_map[${JSON.stringify(name)}] = ${JSON.stringify(shard)} is invalid: expected a .safetensors file name in the same folder`,
      );
    }
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(name);
  }
  const files: string[] = [];
  for (const [shard, wanted] of byShard) {
    const file = path.join(path.dirname(index), shard);
    if (!fs.existsSync(file))
      throw new Error(
        `${index}: shard ${shard} (holding ${JSON.stringify([...wanted][0])}${wanted.size > 1 ? ` and ${wanted.size - 1} more` : ''}) does not exist`,
      );
    const header = readSafetensors(file, { source: file });
    const extra = header.names().filter((n) => !wanted.has(n));
    if (extra.length)
      warn(
        `${file}: ${extra.length} tensor(s) not listed in ${path.basename(index)} ignored (${extra
          .slice(0, 3)
          .map((n) => JSON.stringify(n))
          .join(', ')})`,
      );
    const got = new Set(readWeightsFile(file, into, dtypes, (n) => wanted.has(n)));
    const missing = [...wanted].filter((n) => !got.has(n));
    if (missing.length)
      throw new Error(
        `${index}: tensor ${JSON.stringify(missing[0])} is mapped to ${shard}, which does not hold it${missing.length > 1 ? ` (${missing.length} such tensors)` : ''}`,
      );
    files.push(file);
  }
  return files;
}

/** Weights read from a folder, as float32, with where they came from. */
export interface LoadedWeights {
  weights: Record<string, NDArray>;
  location: WeightsLocation;
  /** The files read (one, or the shards). */
  files: string[];
  /** The stored dtypes found, e.g. ['F16']. */
  dtypes: SafetensorsDtype[];
}

/**
 * Read a model folder's weights (see locateWeights) as float32 NDArrays.
 * @example const { weights } = readWeights('runs/a/unet');
 */
export function readWeights(dir: string, variant?: string): LoadedWeights {
  const location = locateWeights(dir, variant);
  return readWeightsAt(location);
}

/** Read weights at a known location. @example readWeightsAt({ kind: 'single', file: 'ck/ema.safetensors', variant: null }) */
export function readWeightsAt(location: WeightsLocation): LoadedWeights {
  const into = new Map<string, NDArray>();
  const dtypes = new Set<SafetensorsDtype>();
  let files: string[];
  if (location.kind === 'sharded') files = readSharded(location.file, into, dtypes);
  else {
    readWeightsFile(location.file, into, dtypes);
    files = [location.file];
  }
  return { weights: Object.fromEntries(into), location, files, dtypes: [...dtypes] };
}

/** The metadata string of a stored weights file (e.g. the training `step`), or null. @example weightsMetadata(f, 'step') */
export function weightsMetadata(file: string, key: string): string | null {
  try {
    return readSafetensors(file, { source: file }).metadata.get(key) ?? null;
  } catch {
    return null;
  }
}

/**
 * Serialize weights as safetensors in `dtype` ('float32' default; 'float16' rounds to nearest even,
 * values beyond +-65504 become +-Infinity — refused, so a model is never silently broken).
 * @example const bytes = serializeWeights(weights, { dtype: 'float16', metadata: { step: '300' } });
 */
export function serializeWeights(
  weights: Record<string, NDArray>,
  options: { dtype?: WeightsDtype; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16')
    throw new Error(`--dtype ${String(dtype)} is invalid: expected fp32 or fp16`);
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, a] of Object.entries(weights)) {
    if (dtype === 'float32') {
      tensors[name] = a;
      continue;
    }
    const bits = new Uint16Array(a.size);
    for (let i = 0; i < a.size; i++) {
      bits[i] = float32ToFloat16Bits(a.data[i]);
      if ((bits[i] & 0x7c00) === 0x7c00 && Number.isFinite(a.data[i])) {
        throw new Error(
          `--dtype fp16: weight ${JSON.stringify(name)}[${i}] = ${a.data[i]} overflows float16 (largest 65504); keep fp32`,
        );
      }
    }
    tensors[name] = { dtype: 'F16', shape: a.shape, data: bits };
  }
  return serializeSafetensors(tensors, { format: 'pt', ...options.metadata });
}

/**
 * Write DIR/diffusion_pytorch_model.safetensors atomically in `dtype` (DIR is created if missing).
 * @example writeWeights('out/unet', weights, { dtype: 'float16' });
 */
export function writeWeights(
  dir: string,
  weights: Record<string, NDArray>,
  options: { dtype?: WeightsDtype; metadata?: Record<string, string> } = {},
): string {
  const file = path.join(dir, WEIGHTS_NAME);
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(file, serializeWeights(weights, options));
  return file;
}

/**
 * Parse a `--dtype` value: fp32 | float32 | fp16 | float16.
 * @example parseWeightsDtype('fp16') // 'float16'
 */
export function parseWeightsDtype(v: string): WeightsDtype {
  if (v === 'fp32' || v === 'float32') return 'float32';
  if (v === 'fp16' || v === 'float16') return 'float16';
  throw new Error(`--dtype ${v} is invalid: expected fp32 or fp16`);
}
