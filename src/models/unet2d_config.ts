/**
 * The UNet2DModel config, defined once: a zod schema of diffusers' `UNet2DModel.__init__` keys
 * (snake_case, as in config.json) with diffusers' defaults; the TypeScript type `UNet2DConfig` is
 * inferred from it, the file reader (config_schema.ts) checks files against it, and
 * `validateUNet2DConfig` adds the checks that involve several keys.
 *
 * Null: for keys where diffusers gives None a meaning (sample_size, time_embedding_dim, mid_block_type,
 * attention_head_dim = one head over all channels, norm_num_groups = min(channels / 4, 32) where a block
 * allows it, attn_norm_num_groups, class_embed_type, num_class_embeds, num_train_timesteps) null keeps
 * that meaning; for the other keys null means "the default".
 *
 * @example
 *   const c = validateUNet2DConfig({ block_out_channels: [32, 64], down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
 *     up_block_types: ['AttnUpBlock2D', 'UpBlock2D'], norm_num_groups: 8 });
 *   c.layers_per_block // 2 (diffusers' default)
 */
import { z } from 'zod';

/** Down block types UNet2DModel can build ("UNetRes" + name is diffusers' legacy spelling, accepted and shortened). */
export const DOWN_BLOCK_TYPES = [
  'DownBlock2D',
  'ResnetDownsampleBlock2D',
  'AttnDownBlock2D',
  'SkipDownBlock2D',
  'AttnSkipDownBlock2D',
] as const;
export const UP_BLOCK_TYPES = [
  'UpBlock2D',
  'ResnetUpsampleBlock2D',
  'AttnUpBlock2D',
  'SkipUpBlock2D',
  'AttnSkipUpBlock2D',
] as const;
export type DownBlockType = (typeof DOWN_BLOCK_TYPES)[number];
export type UpBlockType = (typeof UP_BLOCK_TYPES)[number];
export const ACT_FNS = ['silu', 'swish', 'mish', 'gelu', 'relu'] as const;

const list = (vs: readonly (string | null)[]) => vs.map((v) => JSON.stringify(v)).join(', ');
const oneOf = <const T extends readonly [string, ...string[]]>(vs: T) =>
  z.enum(vs, { error: () => `expected one of ${list(vs)}` });
const int = (min: number) =>
  z
    .number({ error: () => `expected an integer >= ${min}` })
    .int({ error: () => `expected an integer >= ${min}` })
    .min(min, { error: () => `expected an integer >= ${min}` });
const finite = () => z.number({ error: () => 'expected a finite number' });
const positive = () =>
  z.number({ error: () => 'expected a finite number > 0' }).positive({ error: () => 'expected a finite number > 0' });
const bool = () => z.boolean({ error: () => 'expected true or false' });
/** A key whose null means "the default" `d`. */
const withDefault = <T extends z.ZodType>(s: T, d: z.output<T>) =>
  s.nullish().transform((v) => (v ?? d) as z.output<T>);
/** A key whose null is a value of its own; absent means `d`. */
const nullable = <T extends z.ZodType>(s: T, d: z.output<T> | null) =>
  s
    .nullable()
    .optional()
    .transform((v) => (v === undefined ? d : v) as z.output<T> | null);
/** "UNetResDownBlock2D" -> "DownBlock2D" (diffusers' get_down_block / get_up_block do the same). */
const blockName = (v: unknown) => (typeof v === 'string' && v.startsWith('UNetRes') ? v.slice(7) : v);

/** One entry per key of diffusers' UNet2DModel.__init__ (commit 58eb52c0), with its default. */
export const UNET2D_CONFIG_SHAPE = {
  sample_size: nullable(
    z.union([int(1), z.tuple([int(1), int(1)])], {
      error: () => 'expected null, a positive integer or [height, width]',
    }),
    null,
  ),
  in_channels: withDefault(int(1), 3),
  out_channels: withDefault(int(1), 3),
  center_input_sample: withDefault(bool(), false),
  time_embedding_type: withDefault(oneOf(['positional', 'fourier', 'learned']), 'positional'),
  time_embedding_dim: nullable(int(1), null),
  freq_shift: withDefault(finite(), 0),
  flip_sin_to_cos: withDefault(bool(), true),
  down_block_types: withDefault(
    z
      .array(z.preprocess(blockName, oneOf(DOWN_BLOCK_TYPES)), { error: () => 'expected a list of block type names' })
      .min(1, { error: () => 'expected at least one block' }),
    ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'],
  ),
  mid_block_type: nullable(
    z.enum(['UNetMidBlock2D'], { error: () => 'expected one of "UNetMidBlock2D", null' }),
    'UNetMidBlock2D',
  ),
  up_block_types: withDefault(
    z
      .array(z.preprocess(blockName, oneOf(UP_BLOCK_TYPES)), { error: () => 'expected a list of block type names' })
      .min(1, { error: () => 'expected at least one block' }),
    ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
  ),
  block_out_channels: withDefault(
    z
      .array(int(1), { error: () => 'expected a list of integers >= 1' })
      .min(1, { error: () => 'expected at least one entry' }),
    [224, 448, 672, 896],
  ),
  layers_per_block: withDefault(int(1), 2),
  mid_block_scale_factor: withDefault(positive(), 1),
  downsample_padding: withDefault(int(0), 1),
  downsample_type: withDefault(oneOf(['conv', 'resnet']), 'conv'),
  upsample_type: withDefault(oneOf(['conv', 'resnet']), 'conv'),
  dropout: withDefault(
    z
      .number({ error: () => 'expected a probability in [0, 1)' })
      .min(0, { error: () => 'expected a probability in [0, 1)' })
      .lt(1, { error: () => 'expected a probability in [0, 1)' }),
    0,
  ),
  act_fn: withDefault(oneOf(ACT_FNS), 'silu'),
  attention_head_dim: nullable(int(1), 8),
  norm_num_groups: nullable(int(1), 32),
  attn_norm_num_groups: nullable(int(1), null),
  norm_eps: withDefault(positive(), 1e-5),
  resnet_time_scale_shift: withDefault(oneOf(['default', 'scale_shift']), 'default'),
  add_attention: withDefault(bool(), true),
  class_embed_type: nullable(
    z.enum(['timestep', 'identity'], { error: () => 'expected one of null, "timestep", "identity"' }),
    null,
  ),
  num_class_embeds: nullable(int(1), null),
  num_train_timesteps: nullable(int(1), null),
};

/** Every key of diffusers' UNet2DModel.__init__ (the allowed keys of a config). */
export const UNET2D_KEYS = Object.keys(UNET2D_CONFIG_SHAPE) as (keyof typeof UNET2D_CONFIG_SHAPE)[];

/** The schema of a UNet2DModel config (metadata keys `_class_name`, `_diffusers_version`, ... are allowed). */
export const UNET2D_CONFIG_SCHEMA = z.object({
  _class_name: z.literal('UNet2DModel').optional(),
  ...UNET2D_CONFIG_SHAPE,
});

type Parsed = z.output<typeof UNET2D_CONFIG_SCHEMA>;
/** A full UNet2DModel config (every key present, defaults filled), as written to config.json. */
export type UNet2DConfig = { _class_name: 'UNet2DModel' } & Omit<
  Parsed,
  '_class_name' | 'down_block_types' | 'up_block_types'
> & {
    down_block_types: DownBlockType[];
    up_block_types: UpBlockType[];
  };

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** True for the NCSN++ skip blocks (their resnets use min(channels / 4, 32) groups, not norm_num_groups). */
export function isSkipBlock(t: DownBlockType | UpBlockType): boolean {
  return t === 'SkipDownBlock2D' || t === 'AttnSkipDownBlock2D' || t === 'SkipUpBlock2D' || t === 'AttnSkipUpBlock2D';
}

/**
 * Validate a (partial) UNet2DModel config and fill diffusers' defaults. Unknown keys, wrong types and
 * unsupported values are errors naming the key, the value and what is allowed (the file reader warns
 * about unknown keys and drops them before calling this).
 *
 * @example validateUNet2DConfig({ block_out_channels: [32, 64], down_block_types: ['DownBlock2D', 'AttnDownBlock2D'], up_block_types: ['AttnUpBlock2D', 'UpBlock2D'] })
 */
export function validateUNet2DConfig(json: unknown, where = 'UNet2DModel config'): UNet2DConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`${where}: expected a JSON object, got ${show(json)}`);
  const obj = json as Record<string, unknown>;
  if (obj._class_name !== undefined && obj._class_name !== 'UNet2DModel')
    throw new Error(`${where}: _class_name = ${show(obj._class_name)} is not "UNet2DModel"`);
  const allowed: readonly string[] = UNET2D_KEYS;
  const unknown = Object.keys(obj).filter((k) => !k.startsWith('_') && !allowed.includes(k));
  if (unknown.length > 0) {
    throw new Error(
      `${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed keys: ${allowed.join(', ')})`,
    );
  }
  const known = Object.fromEntries(Object.entries(obj).filter(([k]) => allowed.includes(k)));
  const r = z.object(UNET2D_CONFIG_SHAPE).safeParse(known);
  if (!r.success) {
    const iss = r.error.issues[0];
    let v: unknown = known;
    for (const k of iss.path)
      v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
    const path = iss.path
      .map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
      .join('');
    throw new Error(
      `${where}: ${path} = ${v === undefined ? 'missing' : show(v)} is invalid: ${iss.message.replace(/^Invalid input: /, '')}`,
    );
  }
  const cfg = { _class_name: 'UNet2DModel', ...r.data } as UNet2DConfig;
  checkUNet2DConfig(cfg, where);
  return cfg;
}

/** The checks that involve several keys (diffusers fails on these when it builds the model, or later in forward). */
function checkUNet2DConfig(c: UNet2DConfig, where: string): void {
  const fail = (key: string, msg: string): never => {
    throw new Error(`${where}: ${key} ${msg}`);
  };
  const boc = c.block_out_channels;
  const n = boc.length;
  if (c.down_block_types.length !== c.up_block_types.length)
    fail(
      'up_block_types',
      `has ${c.up_block_types.length} entries but down_block_types has ${c.down_block_types.length}: they must have the same length`,
    );
  if (n !== c.down_block_types.length)
    fail(
      'block_out_channels',
      `has ${n} entries but down_block_types has ${c.down_block_types.length}: they must have the same length`,
    );
  const g = c.norm_num_groups;
  const usesGroups = [...c.down_block_types, ...c.up_block_types].some((t) => !isSkipBlock(t));
  if (g === null && usesGroups) {
    fail(
      'norm_num_groups',
      `= null is invalid with ${[...c.down_block_types, ...c.up_block_types].find((t) => !isSkipBlock(t))}: only the skip blocks (SkipDownBlock2D, AttnSkipDownBlock2D, SkipUpBlock2D, AttnSkipUpBlock2D) choose their own groups`,
    );
  }
  if (g !== null) {
    boc.forEach((ch, i) => {
      if (ch % g !== 0)
        fail(
          'norm_num_groups',
          `= ${g} does not divide block_out_channels[${i}] = ${ch} (GroupNorm needs channels divisible by groups)`,
        );
    });
  }
  if (c.attn_norm_num_groups !== null && boc[n - 1] % c.attn_norm_num_groups !== 0) {
    fail('attn_norm_num_groups', `= ${c.attn_norm_num_groups} does not divide the mid-block channels ${boc[n - 1]}`);
  }
  if (c.time_embedding_type === 'positional' && Math.floor(boc[0] / 2) - c.freq_shift === 0) {
    fail(
      'freq_shift',
      `= ${c.freq_shift} makes the timestep frequency spacing divide by zero for block_out_channels[0] = ${boc[0]}`,
    );
  }
  if (c.time_embedding_type === 'learned' && c.num_train_timesteps === null)
    fail(
      'num_train_timesteps',
      '= null is invalid with time_embedding_type "learned": the learned table needs one row per training timestep',
    );
  const skip = [...c.down_block_types, ...c.up_block_types].filter(isSkipBlock);
  if (skip.length > 0) {
    if (c.in_channels !== 3)
      fail(
        'in_channels',
        `= ${c.in_channels} is invalid with ${skip[0]}: the skip blocks' skip_conv is built for 3 input channels (as in diffusers)`,
      );
    if (c.out_channels !== 3)
      fail(
        'out_channels',
        `= ${c.out_channels} is invalid with ${skip[0]}: the skip path adds a 3-channel image to the output (as in diffusers)`,
      );
  }
  const hd = c.attention_head_dim;
  const attnChannels = [
    ...c.down_block_types.map((t, i) => (t.startsWith('Attn') ? boc[i] : 0)),
    ...c.up_block_types.map((t, i) => (t.startsWith('Attn') ? boc[n - 1 - i] : 0)),
    c.mid_block_type !== null && c.add_attention ? boc[n - 1] : 0,
  ].filter((ch) => ch > 0);
  if (hd !== null)
    for (const ch of attnChannels)
      if (hd > ch)
        fail(
          'attention_head_dim',
          `= ${hd} is larger than an attention block's ${ch} channels (heads = channels / attention_head_dim would be 0)`,
        );
  [
    ...c.down_block_types.map((t, i) => [t, boc[i]] as const),
    ...c.up_block_types.map((t, i) => [t, boc[n - 1 - i]] as const),
  ].forEach(([t, ch]) => {
    if ((t === 'AttnSkipDownBlock2D' || t === 'AttnSkipUpBlock2D') && ch % 32 !== 0) {
      fail(
        'block_out_channels',
        `has ${ch} channels at a ${t}, whose attention GroupNorm has 32 groups (diffusers fixes it): use a multiple of 32`,
      );
    }
  });
  checkSkipGroups(c, fail);
}

/**
 * The skip blocks choose their GroupNorm groups from the channel counts (min(C / 4, 32); AttnSkipUpBlock2D
 * min(C_in + C_skip / 4, 32), precedence as diffusers writes it): check those divide the channels, naming the block.
 */
function checkSkipGroups(c: UNet2DConfig, fail: (key: string, msg: string) => never): void {
  const boc = c.block_out_channels;
  const n = boc.length;
  const auto = (ch: number) => Math.min(Math.floor(ch / 4), 32);
  const need = (key: string, what: string, ch: number, g: number) => {
    if (g < 1 || ch % g !== 0)
      fail(
        key,
        `gives ${what} a GroupNorm over ${ch} channels with ${g} groups (diffusers' rule for this block), which does not divide them: choose other block_out_channels`,
      );
  };
  c.down_block_types.forEach((t, i) => {
    if (!isSkipBlock(t)) return;
    const inCh = i === 0 ? boc[0] : boc[i - 1];
    need(`down_block_types[${i}]`, `${t}'s first resnet`, inCh, auto(inCh));
    need(`down_block_types[${i}]`, `${t}'s resnets`, boc[i], auto(boc[i]));
  });
  const rev = [...boc].reverse();
  c.up_block_types.forEach((t, i) => {
    if (!isSkipBlock(t)) return;
    const prev = i === 0 ? rev[0] : rev[i - 1];
    const out = rev[i];
    const inCh = rev[Math.min(i + 1, n - 1)];
    const L = c.layers_per_block + 1;
    for (let j = 0; j < L; j++) {
      const resSkip = j === L - 1 ? inCh : out;
      const resIn = j === 0 ? prev : out;
      const g = t === 'AttnSkipUpBlock2D' ? Math.min(resIn + Math.floor(resSkip / 4), 32) : auto(resIn + resSkip);
      need(`up_block_types[${i}]`, `${t}'s resnet ${j}`, resIn + resSkip, g);
    }
    need(`up_block_types[${i}]`, `${t}'s resnets`, out, auto(out));
  });
}
