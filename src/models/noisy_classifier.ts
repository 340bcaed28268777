/**
 * A time-conditional ("noisy") classifier p_phi(y | x_t, t) for classifier guidance (Dhariwal & Nichol
 * 2021, "Diffusion Models Beat GANs on Image Synthesis", sec. 4): it sees samples of the forward process
 * at every noise level, so its gradient grad_x log p_phi(y | x_t, t) can steer sampling toward class y.
 *
 * Images [C, H, W] (conv path; `channels` = widths of the stride-2 convolutions):
 *   emb = SiLU(W_t sinusoidal(t))                                  (as UNet2DModel's time embedding)
 *   h = SiLU(conv_k(h) + W_k emb)   for each width (3x3, stride 2, padding 1; emb added per channel)
 *   logits = W_out SiLU(W_head flatten(h) + W'_head emb)          (head_dim > 0, default 128)
 *          = W_out mean_{H, W}(h)                                  (head_dim = 0: global average pooling)
 * Vectors [D] (MLP path; `channels` = hidden widths):
 *   h = SiLU(W_k h + W'_k emb), h_0 = x;  logits = W_out h
 * Parameter names: `time_proj_linear.*`, `layers.<k>.*`, `time_to_layer.<k>.*`, `head.*`, `time_to_head.*`, `proj_out.*`.
 *
 * @example
 *   const net = new NoisyClassifier(validateNoisyClassifierConfig({ sample_shape: [1, 28, 28], num_classes: 10 }));
 *   const params = net.initParams(new Philox(0));
 *   // traced: withParams(net, params, () => net.forward(x, t))  ->  logits [B, 10]
 */
import { add, flatten, mean, reshape, silu, type Value } from '../engine/index.ts';
import { Conv2d } from '../nn/conv2d.ts';
import { Linear } from '../nn/linear.ts';
import { Module } from '../nn/module.ts';
import { Timesteps } from '../nn/timesteps.ts';

/** The classifier's config.json (snake_case, like the diffusion models' configs). */
export interface NoisyClassifierConfig {
  _class_name: 'NoisyClassifier';
  /** One sample's shape: [C, H, W] (images) or [D] (vectors). */
  sample_shape: number[];
  num_classes: number;
  /** Conv widths (images) or hidden widths (vectors). */
  channels: number[];
  /** Size of the sinusoidal time embedding. */
  time_embedding_dim: number;
  /** Images: width of the dense layer on the flattened features (0 = global average pooling instead). */
  head_dim: number;
}

/**
 * Fill defaults and check a (partial) config; errors name the key.
 * @example validateNoisyClassifierConfig({ sample_shape: [2], num_classes: 5 }).channels // [128, 128]
 */
export function validateNoisyClassifierConfig(json: unknown, where = 'NoisyClassifier config'): NoisyClassifierConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${where}: expected an object`);
  const o = json as Record<string, unknown>;
  const known = ['_class_name', 'sample_shape', 'num_classes', 'channels', 'time_embedding_dim', 'head_dim'];
  for (const k of Object.keys(o))
    if (!known.includes(k) && !k.startsWith('_'))
      throw new Error(`${where}: unknown key '${k}' (allowed: ${known.join(', ')})`);
  if (o._class_name !== undefined && o._class_name !== 'NoisyClassifier')
    throw new Error(`${where}: _class_name = ${JSON.stringify(o._class_name)} is not "NoisyClassifier"`);
  const ints = (k: string, v: unknown, min: number): number[] => {
    if (!Array.isArray(v) || v.length === 0 || v.some((d) => !Number.isInteger(d) || d < min))
      throw new Error(`${where}: ${k} = ${JSON.stringify(v)} must be a non-empty list of integers >= ${min}`);
    return v as number[];
  };
  const shape = ints('sample_shape', o.sample_shape, 1);
  if (shape.length !== 1 && shape.length !== 3)
    throw new Error(`${where}: sample_shape = ${JSON.stringify(shape)} must be [C, H, W] (images) or [D] (vectors)`);
  const K = o.num_classes;
  if (!Number.isInteger(K) || (K as number) < 2)
    throw new Error(`${where}: num_classes = ${JSON.stringify(K)} must be an integer >= 2`);
  const tdim = o.time_embedding_dim ?? 32;
  if (!Number.isInteger(tdim) || (tdim as number) < 2)
    throw new Error(`${where}: time_embedding_dim = ${JSON.stringify(tdim)} must be an integer >= 2`);
  const head = o.head_dim ?? (shape.length === 3 ? 128 : 0);
  if (!Number.isInteger(head) || (head as number) < 0)
    throw new Error(`${where}: head_dim = ${JSON.stringify(head)} must be an integer >= 0`);
  if (shape.length === 1 && head !== 0)
    throw new Error(`${where}: head_dim = ${head} is for images; vector classifiers are MLPs (set channels instead)`);
  return {
    _class_name: 'NoisyClassifier',
    sample_shape: shape,
    num_classes: K as number,
    channels: ints('channels', o.channels ?? (shape.length === 3 ? [32, 64] : [128, 128]), 1),
    time_embedding_dim: tdim as number,
    head_dim: head as number,
  };
}

/** The network (see the module doc). */
export class NoisyClassifier extends Module {
  readonly isImage: boolean;
  readonly timeProj: Timesteps;
  readonly timeLinear: Linear;
  readonly layers: Module[];
  readonly timeToLayer: Linear[];
  readonly head: Linear | null;
  readonly timeToHead: Linear | null;
  readonly projOut: Linear;

  constructor(readonly config: NoisyClassifierConfig) {
    super();
    const c = config;
    this.isImage = c.sample_shape.length === 3;
    const E = c.time_embedding_dim;
    this.timeProj = new Timesteps(E, { flipSinToCos: true, downscaleFreqShift: 0 });
    this.timeLinear = this.child('time_proj_linear', new Linear(E, E));
    let width = c.sample_shape[0];
    const layers: Module[] = [];
    for (const w of c.channels) {
      layers.push(this.isImage ? new Conv2d(width, w, 3, { stride: 2, padding: 1 }) : new Linear(width, w));
      width = w;
    }
    this.layers = this.children('layers', layers);
    this.timeToLayer = this.children(
      'time_to_layer',
      c.channels.map((w) => new Linear(E, w)),
    );
    if (this.isImage && c.head_dim > 0) {
      let side = c.sample_shape[1],
        side2 = c.sample_shape[2];
      for (let k = 0; k < c.channels.length; k++) {
        side = Math.floor((side - 1) / 2) + 1;
        side2 = Math.floor((side2 - 1) / 2) + 1;
      }
      this.head = this.child('head', new Linear(width * side * side2, c.head_dim));
      this.timeToHead = this.child('time_to_head', new Linear(E, c.head_dim));
      width = c.head_dim;
    } else {
      this.head = null;
      this.timeToHead = null;
    }
    this.projOut = this.child('proj_out', new Linear(width, c.num_classes));
  }

  /** x [B, ...sample_shape], t [B] -> logits [B, num_classes]. */
  forward(x: Value, t: Value): Value {
    const emb = silu(this.timeLinear.forward(this.timeProj.forward(t)));
    let h = x;
    this.layers.forEach((layer, k) => {
      const e = this.timeToLayer[k].forward(emb);
      const z = (layer as Conv2d | Linear).forward(h);
      h = silu(add(z, this.isImage ? reshape(e, [-1, this.config.channels[k], 1, 1]) : e));
    });
    if (this.head && this.timeToHead) h = silu(add(this.head.forward(flatten(h, 1)), this.timeToHead.forward(emb)));
    else if (this.isImage) h = mean(h, [2, 3]);
    return this.projOut.forward(h);
  }
}
