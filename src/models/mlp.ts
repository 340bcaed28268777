/**
 * `mlp-2d`: the denoiser for low-dimensional data (2-D toy sets, tabular rows, short series).
 *
 *   h0 = [x, pe(x)?, emb(t), class_emb(y)?]         (concatenation; emb = sinusoidal, Ho et al. 2020 app. B)
 *   h_{k+1} = act(W_k h_k + b_k),  k = 0..K-1       (K = hidden_dims.length; SiLU by default)
 *   out = W_out h_K + b_out
 *
 * The reference workload (ARCHITECTURE.md section 4) is 3 hidden layers of 128 units, SiLU, a
 * 64-dimensional sinusoidal time embedding, on 2-D data. Optional pe(x) (`input_embedding_dim` > 0): the
 * same sinusoidal embedding applied to each input coordinate times `input_embedding_scale` (Fourier
 * features of the input, Tancik et al. 2020), which lets a small MLP draw sharp edges (the toy recipe uses it). Parameter names: `layers.<k>.weight|bias`,
 * `proj_out.weight|bias`, `class_embedding.weight` (when `num_class_embeds` is set).
 *
 * Config (JSON, snake_case like diffusers' config.json; `_class_name: "MLPModel"`):
 * in_channels, out_channels (default in_channels), hidden_dims, time_embedding_dim, flip_sin_to_cos,
 * freq_shift, act_fn, num_class_embeds (null or count, including any "null" class for guidance),
 * class_embedding_dim (default time_embedding_dim), input_embedding_dim (default 0 = off; per coordinate),
 * input_embedding_scale (default 25).
 *
 * @example
 *   const model = MLPModel.fromConfig({ in_channels: 2 });
 *   const params = model.initParams(new Philox(0));
 *   const g = trace((x, t, ...p) => withParams(model, bind(p), () => model.forward(x, t)), specs);
 */
import { concat, reshape, slice, type Value } from '../engine/index.ts';
import { getActivation, type Activation } from '../nn/activations.ts';
import { Embedding } from '../nn/embedding.ts';
import { Linear } from '../nn/linear.ts';
import { Module } from '../nn/module.ts';
import { Timesteps } from '../nn/timesteps.ts';
import { ConfigReader, type Json } from './config_utils.ts';

export interface MLPConfig {
  _class_name: 'MLPModel';
  in_channels: number;
  out_channels: number;
  hidden_dims: number[];
  time_embedding_dim: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  act_fn: 'silu' | 'swish' | 'gelu' | 'relu';
  num_class_embeds: number | null;
  class_embedding_dim: number;
  /** Sinusoidal features per input coordinate (0 = none). */
  input_embedding_dim: number;
  /** Multiplies each coordinate before its sinusoidal features. */
  input_embedding_scale: number;
}

const MLP_KEYS = [
  'in_channels',
  'out_channels',
  'hidden_dims',
  'time_embedding_dim',
  'flip_sin_to_cos',
  'freq_shift',
  'act_fn',
  'num_class_embeds',
  'class_embedding_dim',
  'input_embedding_dim',
  'input_embedding_scale',
] as const;

/** Validate a (partial) MLP config and fill the defaults. @example validateMLPConfig({ in_channels: 4 }).hidden_dims // [128, 128, 128] */
export function validateMLPConfig(json: unknown, where = 'MLPModel config'): MLPConfig {
  const r = new ConfigReader(json, where, MLP_KEYS);
  const cls = r.obj._class_name;
  if (cls !== undefined && cls !== 'MLPModel')
    throw new Error(`${where}: _class_name = ${JSON.stringify(cls)} is not "MLPModel"`);
  const inChannels = r.int('in_channels', 2, { min: 1 });
  const tDim = r.int('time_embedding_dim', 64, { min: 2 });
  const cfg: MLPConfig = {
    _class_name: 'MLPModel',
    in_channels: inChannels,
    out_channels: r.int('out_channels', inChannels, { min: 1 }),
    hidden_dims: r.intList('hidden_dims', [128, 128, 128], { min: 1, minLength: 1 }),
    time_embedding_dim: tDim,
    flip_sin_to_cos: r.bool('flip_sin_to_cos', true),
    freq_shift: r.num('freq_shift', 0),
    act_fn: r.choice('act_fn', 'silu', ['silu', 'swish', 'gelu', 'relu'] as const),
    num_class_embeds: r.intOrNull('num_class_embeds', null, { min: 1 }),
    class_embedding_dim: r.int('class_embedding_dim', tDim, { min: 1 }),
    input_embedding_dim: r.int('input_embedding_dim', 0, { min: 0 }),
    input_embedding_scale: r.num('input_embedding_scale', 25, { positive: true }),
  };
  if (cfg.input_embedding_dim === 1)
    throw new Error(`${where}: input_embedding_dim = 1 is too small (0 = off, or >= 2)`);
  if (Math.floor(tDim / 2) - cfg.freq_shift === 0)
    throw new Error(
      `${where}: time_embedding_dim ${tDim} with freq_shift ${cfg.freq_shift} divides by zero in the frequency spacing`,
    );
  return cfg;
}

/** The MLP denoiser; see the file comment for the architecture and parameter names. */
export class MLPModel extends Module {
  readonly config: MLPConfig;
  readonly timeProj: Timesteps;
  readonly inputProj: Timesteps | null;
  readonly classEmbedding: Embedding | null;
  readonly layers: Linear[];
  readonly projOut: Linear;
  private readonly act: Activation;

  constructor(config: Partial<MLPConfig> | Record<string, Json>) {
    super();
    const c = validateMLPConfig(config);
    this.config = c;
    this.timeProj = new Timesteps(c.time_embedding_dim, {
      flipSinToCos: c.flip_sin_to_cos,
      downscaleFreqShift: c.freq_shift,
    });
    this.inputProj =
      c.input_embedding_dim === 0
        ? null
        : new Timesteps(c.input_embedding_dim, {
            flipSinToCos: c.flip_sin_to_cos,
            downscaleFreqShift: c.freq_shift,
            scale: c.input_embedding_scale,
          });
    this.classEmbedding =
      c.num_class_embeds === null
        ? null
        : this.child('class_embedding', new Embedding(c.num_class_embeds, c.class_embedding_dim));
    let width =
      c.in_channels * (1 + c.input_embedding_dim) +
      c.time_embedding_dim +
      (c.num_class_embeds === null ? 0 : c.class_embedding_dim);
    const layers: Linear[] = [];
    for (const h of c.hidden_dims) {
      layers.push(new Linear(width, h));
      width = h;
    }
    this.layers = this.children('layers', layers);
    this.projOut = this.child('proj_out', new Linear(width, c.out_channels));
    this.act = getActivation(c.act_fn, 'MLPModel');
  }

  /** Build from a JSON config (unknown keys and bad values are errors). */
  static fromConfig(json: unknown): MLPModel {
    return new MLPModel(validateMLPConfig(json));
  }

  /** The full config (JSON round trip: `MLPModel.fromConfig(m.toConfig())` rebuilds the same model). */
  toConfig(): MLPConfig {
    return { ...this.config, hidden_dims: [...this.config.hidden_dims] };
  }

  /**
   * x [n, in_channels], t [n] (float timesteps), classLabels [n] (int64 or float ids; required iff
   * num_class_embeds is set) -> [n, out_channels].
   */
  forward(x: Value, t: Value, classLabels?: Value): Value {
    const c = this.config;
    if (x.rank !== 2 || x.shape[1] !== c.in_channels)
      throw new Error(`MLPModel.forward: x must be [batch, ${c.in_channels}], got [${x.shape.join(', ')}]`);
    if (t.rank !== 1 || t.shape[0] !== x.shape[0])
      throw new Error(
        `MLPModel.forward: t must be [${String(x.shape[0])}] (one timestep per row), got [${t.shape.join(', ')}]`,
      );
    const parts = [x];
    if (this.inputProj) {
      for (let i = 0; i < c.in_channels; i++)
        parts.push(this.inputProj.forward(reshape(slice(x, [i], [i + 1], [1]), [x.shape[0]])));
    }
    parts.push(this.timeProj.forward(t));
    if (this.classEmbedding) {
      if (!classLabels) throw new Error('MLPModel.forward: class labels are required (num_class_embeds is set)');
      if (classLabels.rank !== 1 || classLabels.shape[0] !== x.shape[0])
        throw new Error(
          `MLPModel.forward: class labels must be [${String(x.shape[0])}], got [${classLabels.shape.join(', ')}]`,
        );
      parts.push(this.classEmbedding.forward(classLabels));
    } else if (classLabels) {
      throw new Error(
        'MLPModel.forward: class labels were given but the model has no class embedding (set num_class_embeds)',
      );
    }
    let h = concat(parts, 1);
    for (const layer of this.layers) h = this.act(layer.forward(h));
    return this.projOut.forward(h);
  }
}
