/**
 * Resource estimates from a model config, before anything is allocated: parameter count, the
 * float32 bytes of the weights, of the activations of one sample, and the graph depth (layers).
 * Used to refuse a job with one clear line (naming the key, the estimate and the limit) instead of
 * being killed by the OS, crashing V8 or compiling for minutes without output.
 *
 * - Parameters: exact. The MLP by building it (shapes only, no weights: cheap once the depth is
 *   checked); the U-Net by building the same config with `layers_per_block` 1 and 2 and
 *   extrapolating linearly in layers_per_block (every extra layer adds one resnet, and one attention
 *   in attention blocks, to each block).
 * - Activations: an upper-bound style estimate (float32 tensors kept by one forward pass per sample,
 *   attention score matrices included), good to a small factor; it is only used against limits.
 * - Layers: Linear / resnet / attention modules; the traced graph grows linearly with them and the
 *   compile time faster than that (an MLP of 250 layers compiled in 6 s, one of 1000 in 115 s on 2
 *   busy cores), so depth is capped at
 *   `MAX_LAYERS` (override: env DIFFUSE_MAX_LAYERS).
 *
 * No Node.js modules here (the browser playground builds models through registry.ts); the default
 * memory limit of the machine is in memory_limit.ts.
 *
 * @example
 *   const e = estimateModelResources(modelConfig('mlp-2d'));
 *   e.parameters // 41858
 *   checkMemory('train --model mlp-2d', trainingBytes(e, 128), { bytes: 2 ** 30, source: 'example' }); // throws when over
 */
import { MLPModel, validateMLPConfig, type MLPConfig } from './mlp.ts';
import { UNet2DModel, validateUNet2DConfig, type UNet2DConfig } from './unet2d.ts';

/** Deepest model accepted (Linear / resnet / attention modules); see the file comment. */
export const MAX_LAYERS = 500;

export interface ModelResources {
  /** Number of scalar parameters (exact). */
  parameters: number;
  /** Bytes of one float32 copy of the weights. */
  parameterBytes: number;
  /** Bytes of the float32 activations one forward pass keeps per sample (estimate). */
  activationBytesPerSample: number;
  /** Elements of one sample (product of the sample shape). */
  sampleElements: number;
  /** Linear / resnet / attention modules (the graph depth). */
  layers: number;
}

/** A job refused before it started because its estimate exceeds a limit. */
export class ResourceLimitError extends Error {
  constructor(
    message: string,
    readonly estimateBytes: number,
    readonly limitBytes: number,
  ) {
    super(message);
    this.name = 'ResourceLimitError';
  }
}

/** "1.5 GiB" style. @example formatBytes(3 * 2 ** 30) // '3.0 GiB' */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} bytes`;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0
    ? `${Math.round(n)} bytes`
    : n >= 1e4
      ? `${n.toExponential(2)} ${units[u]}`
      : `${n.toFixed(1)} ${units[u]}`;
}

/**
 * Parse a size: bytes (`1e9`, `1000000`) or with a unit (`512MB`, `4GiB`, `2g`). Null when invalid.
 * @example parseBytes('4GiB') // 4294967296
 */
export function parseBytes(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d*)?(?:e\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(s);
  if (!m) return null;
  const base = m[3] || m[2] === '' ? 1024 : 1000;
  const pow = ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  const v = Number(m[1]) * base ** pow;
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : null;
}

/** A memory limit and where it came from, for messages (the Node default: memory_limit.ts). */
export interface MemoryLimit {
  bytes: number;
  source: string;
}

/** The layer cap: DIFFUSE_MAX_LAYERS or MAX_LAYERS. */
export function maxLayers(
  env: Record<string, string | undefined> = typeof process !== 'undefined' ? process.env : {},
): number {
  const v = Number(env.DIFFUSE_MAX_LAYERS);
  return Number.isInteger(v) && v > 0 ? v : MAX_LAYERS;
}

/**
 * Throw a one-line ResourceLimitError when `bytes` exceeds the memory limit.
 * @example checkMemory('sample --n 10000000', 3e9, memoryLimit()) // throws when over the limit
 */
export function checkMemory(what: string, bytes: number, limit: MemoryLimit, hint = ''): void {
  if (bytes <= limit.bytes) return;
  throw new ResourceLimitError(
    `${what} needs about ${formatBytes(bytes)} of memory, more than the limit of ${formatBytes(limit.bytes)} (${limit.source})${hint ? `; ${hint}` : ''}; nothing was allocated (raise the limit with --max-memory or DIFFUSE_MEMORY_LIMIT)`,
    bytes,
    limit.bytes,
  );
}

const F32 = 4;

function mlpResources(c: MLPConfig): ModelResources {
  // Built (shapes only, no weights) for the exact count, whatever input embeddings the config adds.
  const model = new MLPModel(c);
  const inW = model.layers.length ? model.layers[0].inFeatures : model.projOut.inFeatures;
  let act = inW;
  for (const h of c.hidden_dims) act += 3 * h; // matmul, bias add, activation
  act += 2 * c.out_channels + c.in_channels;
  return {
    parameters: model.numParameters(),
    parameterBytes: F32 * model.numParameters(),
    activationBytesPerSample: F32 * act,
    sampleElements: c.in_channels,
    layers: c.hidden_dims.length + 1,
  };
}

function unetLayers(c: UNet2DConfig): number {
  const L = c.layers_per_block;
  let n = 2; // conv_in, conv_out
  c.down_block_types.forEach((t) => {
    n += L * (t === 'AttnDownBlock2D' ? 2 : 1) + 1;
  });
  c.up_block_types.forEach((t) => {
    n += (L + 1) * (t === 'AttnUpBlock2D' ? 2 : 1) + 1;
  });
  if (c.mid_block_type !== null) n += 2 + (c.add_attention ? 1 : 0);
  return n;
}

function unetParameters(c: UNet2DConfig): number {
  const count = (lpb: number) => new UNet2DModel({ ...c, layers_per_block: lpb }).numParameters();
  const p1 = count(1);
  if (c.layers_per_block === 1) return p1;
  return p1 + (c.layers_per_block - 1) * (count(2) - p1);
}

function unetActivations(c: UNet2DConfig): number {
  const [H, W] =
    c.sample_size === null
      ? [64, 64]
      : typeof c.sample_size === 'number'
        ? [c.sample_size, c.sample_size]
        : c.sample_size;
  const L = c.layers_per_block;
  const n = c.block_out_channels.length;
  let act = 0;
  // A resnet keeps about 8 tensors of its channels (norm, act, conv, norm, act, conv, time add, residual).
  const resnet = (ch: number, hw: number) => 8 * ch * hw;
  // An attention block: q, k, v, out, norm (5 x C x HW) plus the scores and softmax (2 x heads x HW^2).
  const attention = (ch: number, hw: number) => {
    const heads = c.attention_head_dim === null ? 1 : Math.max(1, Math.floor(ch / c.attention_head_dim));
    return 5 * ch * hw + 2 * heads * hw * hw;
  };
  for (let i = 0; i < n; i++) {
    const hw = Math.ceil(H / 2 ** i) * Math.ceil(W / 2 ** i);
    const ch = c.block_out_channels[i];
    act += L * resnet(ch, hw) + (c.down_block_types[i] === 'AttnDownBlock2D' ? L * attention(ch, hw) : 0);
    const j = n - 1 - i; // the up block working at this resolution
    act += (L + 1) * resnet(2 * ch, hw) + (c.up_block_types[j] === 'AttnUpBlock2D' ? (L + 1) * attention(ch, hw) : 0);
  }
  const low = Math.ceil(H / 2 ** (n - 1)) * Math.ceil(W / 2 ** (n - 1));
  if (c.mid_block_type !== null)
    act +=
      2 * resnet(c.block_out_channels[n - 1], low) +
      (c.add_attention ? attention(c.block_out_channels[n - 1], low) : 0);
  act += 4 * (c.in_channels + c.block_out_channels[0]) * H * W; // conv_in, norm_out, conv_out, input
  return F32 * act;
}

/**
 * Estimate the resources of a model config (validated first; errors name `where` and the key).
 * Refuses (ResourceLimitError) a model deeper than `maxLayers()` before building anything.
 * @example estimateModelResources({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [30000, 30000] }).parameters // 901_182_002
 */
export function estimateModelResources(json: unknown, where = 'model config'): ModelResources {
  const cls = json !== null && typeof json === 'object' ? (json as Record<string, unknown>)._class_name : undefined;
  if (cls === 'UNet2DModel') {
    const c = validateUNet2DConfig(json, where);
    const layers = unetLayers(c);
    checkLayers(
      layers,
      where,
      `layers_per_block = ${c.layers_per_block} with ${c.down_block_types.length} down and ${c.up_block_types.length} up blocks`,
    );
    const [H, W] =
      c.sample_size === null
        ? [64, 64]
        : typeof c.sample_size === 'number'
          ? [c.sample_size, c.sample_size]
          : c.sample_size;
    const parameters = unetParameters(c);
    return {
      parameters,
      parameterBytes: F32 * parameters,
      activationBytesPerSample: unetActivations(c),
      sampleElements: c.in_channels * H * W,
      layers,
    };
  }
  const c = validateMLPConfig(json, where);
  checkLayers(c.hidden_dims.length + 1, where, `hidden_dims has ${c.hidden_dims.length} entries`);
  return mlpResources(c);
}

/**
 * Refuse (ResourceLimitError naming the key) a validated config deeper than `maxLayers()`; returns it.
 * @example new MLPModel(checkModelDepth(validateMLPConfig(json, where), where))
 */
export function checkModelDepth<C extends MLPConfig | UNet2DConfig>(c: C, where = 'model config'): C {
  if (c._class_name === 'UNet2DModel')
    checkLayers(
      unetLayers(c),
      where,
      `layers_per_block = ${c.layers_per_block} with ${c.down_block_types.length} down and ${c.up_block_types.length} up blocks`,
    );
  else checkLayers(c.hidden_dims.length + 1, where, `hidden_dims has ${c.hidden_dims.length} entries`);
  return c;
}

function checkLayers(layers: number, where: string, what: string): void {
  const max = maxLayers();
  if (layers > max) {
    throw new ResourceLimitError(
      `${where}: ${what}: a model of ${layers} layers is refused (at most ${max} layers; compiling the training graph grows faster than linearly: 250 layers 6 s, 1000 layers 2 min; set DIFFUSE_MAX_LAYERS to raise the cap)`,
      layers,
      max,
    );
  }
}

/**
 * Bytes to train: about 14 float32 copies of the weights (weights, gradients, AdamW m and v, EMA, the
 * previous step's copies kept for a non-finite rollback, checkpoint buffers) plus 3 x the activations
 * of a batch (forward values and their gradients).
 * @example trainingBytes(estimateModelResources(modelConfig('unet-s')), 128)
 */
export function trainingBytes(r: ModelResources, batchSize: number): number {
  return 14 * r.parameterBytes + 3 * batchSize * r.activationBytesPerSample + 2 * batchSize * r.sampleElements * F32;
}

/**
 * Bytes to sample `batch` items at once: 3 copies of the weights (ours, ONNX Runtime's, its
 * pre-packed ones) plus the activations and a few sample-sized tensors per item.
 * @example samplingBytes(r, 4096)
 */
export function samplingBytes(r: ModelResources, batch: number): number {
  return 3 * r.parameterBytes + batch * (r.activationBytesPerSample + 6 * r.sampleElements * F32);
}

/** Activation budget of one sampling chunk (machine-independent, so results do not depend on the machine). */
export const SAMPLE_CHUNK_BYTES = 256 * 2 ** 20;

/**
 * Samples per chunk when drawing many: as many as fit SAMPLE_CHUNK_BYTES of activations (at least 1).
 * Depends on the config only, so the chunking (and with it the random streams) is the same everywhere.
 * @example sampleChunkSize(estimateModelResources(modelConfig('mlp-2d'))) // 33554
 */
export function sampleChunkSize(r: ModelResources): number {
  return Math.max(1, Math.floor(SAMPLE_CHUNK_BYTES / (r.activationBytesPerSample + 6 * r.sampleElements * F32)));
}
