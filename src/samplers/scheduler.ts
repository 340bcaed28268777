/**
 * The shared base of the diffusers-compatible scheduler classes.
 *
 * A scheduler is configured by diffusers' snake_case keys (a `scheduler_config.json` loads unchanged),
 * validated against a per-class spec (clear errors naming key, value and allowed values; keys of other
 * registered schedulers are kept as hidden config and written back by toConfig, like diffusers' from_config;
 * other unknown keys are ignored with a warning collected in `scheduler.warnings`, like diffusers' logger
 * warning), and it exposes diffusers' API in camelCase:
 *   setTimesteps(n | {timesteps} | {sigmas}), timesteps, initNoiseSigma, scaleModelInput(x, t),
 *   step(modelOutput, t, x, {generator, eta, ...}) -> {prevSample, predOriginalSample}, addNoise(x0, noise, t),
 *   toConfig() / X.fromConfig(json), and schedulerFromConfig(name, config) to swap classes on one config
 *   (diffusers' `XScheduler.from_config(other.config)`).
 *
 * @example
 *   import { DDIMScheduler, EulerDiscreteScheduler, schedulerFromConfig } from './index.ts';
 *   const ddim = DDIMScheduler.fromConfig({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
 *   const euler = EulerDiscreteScheduler.fromConfig(ddim.toConfig());      // same betas, other sampler
 *   const same = schedulerFromConfig('DDIMScheduler', ddim.toConfig());
 *   ddim.setTimesteps(50);
 *   let x = noise.mulScalar(ddim.initNoiseSigma);
 *   for (const t of ddim.timesteps) x = ddim.step(model(ddim.scaleModelInput(x, t), t), t, x).prevSample;
 */
import type { NDArray } from '../engine/ndarray.ts';
import type { RandomGenerator } from '../engine/rng.ts';
import { alphasFromBetas, betasFor, BETA_SCHEDULES, type BetaScheduleName } from '../schedules/betas.ts';
import { checkNumInferenceSteps, TIMESTEP_SPACINGS } from '../schedules/timesteps.ts';
import { PREDICTION_TYPES } from '../diffusion/parameterization.ts';
import type { ChurnParams } from './churn.ts';

/** A JSON-like config value. */
export type ConfigValue = number | string | boolean | null | number[] | ConfigValue[] | { [k: string]: ConfigValue };
/** A scheduler config: diffusers' snake_case keys. */
export type SchedulerConfig = Record<string, unknown>;

/** The kinds of config value a key can hold. */
export type KeyKind = 'int' | 'number' | 'bool' | 'string' | 'enum' | 'numbers' | 'any';

/** The TypeScript type each kind validates to ('any': checked by its class, typed by `typedKey<T>`). */
interface KindValue {
  int: number;
  number: number;
  bool: boolean;
  string: string;
  enum: string;
  numbers: number[];
  any: unknown;
}

/**
 * How one config key is validated. `T` is the type of the validated value (inferred by `key`, `enumKey`,
 * `typedKey`); `ConfigOf` turns a spec of such keys into the type of the config.
 */
export interface KeySpec<T = unknown> {
  /** Value used when the key is absent (or null for a non-nullable key). */
  default: T;
  kind: KeyKind;
  /** Allowed values for 'enum'. */
  values?: readonly (string | null)[];
  /** null is a meaningful value (e.g. trained_betas, sigma_min). */
  nullable?: boolean;
  /** Inclusive numeric bounds. */
  min?: number;
  max?: number;
  /** Free text appended to errors (what the key means). */
  help?: string;
  /** Type-level only (never set): the type of the validated value. */
  readonly valueType?: T;
}
export type ConfigSpec = Record<string, KeySpec>;

/**
 * The validated config a spec describes: one readonly property per key, of the key's value type.
 * @example type DDIMConfig = ConfigOf<typeof DDIM_KEYS>;  // { readonly eta_default: number; ... }
 */
export type ConfigOf<S extends ConfigSpec> = { readonly [K in keyof S]: S[K] extends KeySpec<infer T> ? T : never };

/** Options of `key` besides kind and default. */
export type KeyOptions<N extends boolean> = Omit<KeySpec, 'default' | 'kind' | 'values' | 'valueType' | 'nullable'> & {
  nullable?: N;
};

/** Options of `step`. Which ones a scheduler reads is documented on its class. sChurn, sTmin, sTmax, sNoise: the churn of
 * Karras et al. (2022) Algorithm 2 (EulerDiscreteScheduler, EDMEulerScheduler; see churn.ts). */
export interface StepOptions extends ChurnParams {
  /** Source of the noise of stochastic steps (DDPM, DDIM with eta > 0, ancestral samplers, s_churn). */
  generator?: RandomGenerator;
  /** DDIM: weight of the noise, eta in [0, 1] (0 = deterministic DDIM, 1 = DDPM-like; DDIM eq. 16). */
  eta?: number;
  /** DDIM: recompute eps from the clipped x_0 (diffusers' `use_clipped_model_output`). */
  useClippedModelOutput?: boolean;
  /** Use this noise instead of drawing from the generator. */
  varianceNoise?: NDArray;
}

/** Result of one `step`. */
export interface StepOutput {
  /** x_{t-1}: the next sample (model input of the next step). */
  prevSample: NDArray;
  /** The x_0 predicted at this step (when the scheduler computes it). */
  predOriginalSample?: NDArray;
}

/** Arguments of `setTimesteps` besides a plain step count. */
export interface SetTimestepsOptions {
  numInferenceSteps?: number;
  /** Custom descending timesteps (instead of a spacing rule). */
  timesteps?: ArrayLike<number>;
  /** Custom descending sigmas (schedulers with a sigma table). */
  sigmas?: ArrayLike<number>;
}

/** Quote a list of allowed values for an error message. */
export function listAllowed(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v))).join(', ');
}

/** Common keys, shared by most schedulers (diffusers' defaults). */
export const COMMON_KEYS = {
  num_train_timesteps: key('int', 1000, {
    min: 1,
    max: 1_000_000,
    help: 'the length of the beta table; at most 1000000 (each step costs tables of every scheduler)',
  }),
  beta_start: key('number', 0.0001, { min: 0 }),
  beta_end: key('number', 0.02, { min: 0 }),
  beta_schedule: enumKey('linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
  trained_betas: key('numbers', null, { nullable: true }),
  prediction_type: enumKey('epsilon', PREDICTION_TYPES),
  timestep_spacing: enumKey('linspace', TIMESTEP_SPACINGS),
  steps_offset: key('int', 0, { min: 0 }),
  rescale_betas_zero_snr: key('bool', false),
  clip_sample: key('bool', true),
  clip_sample_range: key('number', 1.0, { min: 0 }),
  thresholding: key('bool', false),
  dynamic_thresholding_ratio: key('number', 0.995, { min: 0, max: 1 }),
  sample_max_value: key('number', 1.0, { min: 0 }),
} as const satisfies ConfigSpec;

/** The beta-table keys every beta-table scheduler takes, with diffusers' common defaults. */
const BETA_TABLE_KEYS = {
  num_train_timesteps: COMMON_KEYS.num_train_timesteps,
  beta_start: COMMON_KEYS.beta_start,
  beta_end: COMMON_KEYS.beta_end,
  beta_schedule: COMMON_KEYS.beta_schedule,
  trained_betas: COMMON_KEYS.trained_betas,
} as const satisfies ConfigSpec;

/** Which beta-table keys a scheduler may give other defaults or values. */
type BetaTableOverrides = Partial<Record<'beta_start' | 'beta_end' | 'beta_schedule', KeySpec>>;

/**
 * The keys of the beta table every scheduler here takes (num_train_timesteps, beta_start, beta_end,
 * beta_schedule, trained_betas), with diffusers' common defaults; `overrides` replace keys in place.
 * @example const spec = { ...betaTableKeys({ beta_start: key('number', 0.00085, { min: 0 }) }), prediction_type: COMMON_KEYS.prediction_type };
 */
export function betaTableKeys<O extends BetaTableOverrides = Record<never, never>>(
  overrides?: O,
): Omit<typeof BETA_TABLE_KEYS, keyof NoInfer<O>> & NoInfer<O> {
  return { ...BETA_TABLE_KEYS, ...(overrides as O) };
}

/**
 * The config type of the beta-table keys (what BetaScheduler reads): beta_schedule is any of BETA_SCHEDULES
 * (each class accepts its subset), rescale_betas_zero_snr is off where a class does not have it.
 */
export type BetaTableConfig = Omit<ConfigOf<typeof BETA_TABLE_KEYS>, 'beta_schedule'> & {
  readonly beta_schedule: BetaScheduleName;
  readonly rescale_betas_zero_snr?: boolean;
};

/** use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas: the sigma-grid switches (at most one true). */
export const SIGMA_GRID_KEYS = {
  use_karras_sigmas: key('bool', false),
  use_exponential_sigmas: key('bool', false),
  use_beta_sigmas: key('bool', false),
} as const satisfies ConfigSpec;

/** Throw unless at most one of the SIGMA_GRID_KEYS switches is true. @example checkSigmaGridFlags(config, 'EulerDiscreteScheduler') */
export function checkSigmaGridFlags(config: Record<string, unknown>, owner: string): void {
  const on = Object.keys(SIGMA_GRID_KEYS).filter((k) => config[k] === true);
  if (on.length > 1)
    throw new Error(
      `${owner} config: only one of ${Object.keys(SIGMA_GRID_KEYS).join(', ')} can be true (got ${on.join(', ')})`,
    );
}

/**
 * An enum key with its default and allowed values; its type is the union of the values.
 * @example enumKey('linear', ['linear', 'scaled_linear'])  // KeySpec<'linear' | 'scaled_linear'>
 */
export function enumKey<const V extends readonly (string | null)[]>(
  def: V[number],
  values: V,
  help?: string,
): KeySpec<V[number]> {
  return { default: def, kind: 'enum', values, nullable: values.includes(null), help };
}

/**
 * A key of another kind with its default; its type follows the kind (| null with `nullable: true`).
 * @example key('number', 1.0, { min: 0 })  // KeySpec<number>
 */
export function key<K extends Exclude<KeyKind, 'enum' | 'any'>, N extends boolean = false>(
  kind: K,
  def: KindValue[K] | (N extends true ? null : never),
  extra: KeyOptions<N> = {},
): KeySpec<KindValue[K] | (N extends true ? null : never)> {
  return { default: def, kind, ...extra };
}

/**
 * A key its class checks itself (kind 'any'), typed `T`.
 * @example typedKey<number | null>(-Infinity, { nullable: true })
 */
export function typedKey<T>(def: T, extra: KeyOptions<boolean> = {}): KeySpec<T> {
  return { default: def, kind: 'any', ...extra };
}

/**
 * Validate `raw` against `spec`: fill defaults, type-check, reject bad values with an error naming the key,
 * the value and what is allowed. Keys starting with '_' (diffusers' `_class_name`, `_diffusers_version`)
 * are metadata and skipped; keys unknown to this class are returned in `unknown`.
 * @example parseConfig('DDPMScheduler', { num_train_timesteps: COMMON_KEYS.num_train_timesteps }, { num_train_timesteps: 50 })
 */
export function parseConfig(
  owner: string,
  spec: ConfigSpec,
  raw: SchedulerConfig,
): { config: Record<string, unknown>; unknown: string[]; defaulted: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(
      `${owner}: config must be an object of diffusers scheduler keys, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  }
  const config: Record<string, unknown> = {};
  const defaulted: string[] = [];
  for (const [key, ks] of Object.entries(spec)) {
    let v = raw[key];
    if (v === undefined || (v === null && !ks.nullable)) {
      v = cloneValue(ks.default);
      defaulted.push(key);
    }
    config[key] = checkValue(owner, key, ks, v);
  }
  const unknown = Object.keys(raw).filter((k) => !(k in spec) && !k.startsWith('_'));
  return { config, unknown, defaulted };
}

function cloneValue(v: unknown): unknown {
  return Array.isArray(v) ? v.slice() : v;
}

function checkValue(owner: string, key: string, ks: KeySpec, v: unknown): unknown {
  const where = `${owner} config: ${key} = ${JSON.stringify(v)}`;
  const help = ks.help ? ` (${ks.help})` : '';
  if (v === null) {
    if (ks.nullable) return null;
    throw new Error(`${where} must not be null${help}`);
  }
  switch (ks.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${where} must be an integer${help}`);
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where} must be a finite number${help}`);
      break;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${where} must be true or false${help}`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new Error(`${where} must be a string${help}`);
      return v;
    case 'enum':
      if (!ks.values!.includes(v as string))
        throw new Error(`${where} is not supported; allowed values: ${listAllowed(ks.values!)}${help}`);
      return v;
    case 'numbers':
      if (!Array.isArray(v) && !ArrayBuffer.isView(v))
        throw new Error(`${where} must be an array of numbers or null${help}`);
      {
        const arr = Array.from(v as ArrayLike<number>);
        arr.forEach((x, i) => {
          if (typeof x !== 'number' || !Number.isFinite(x))
            throw new Error(`${owner} config: ${key}[${i}] = ${JSON.stringify(x)} must be a finite number`);
        });
        return arr;
      }
    case 'any':
      return v;
  }
  const n = v as number;
  if (ks.min !== undefined && n < ks.min) throw new Error(`${where} must be >= ${ks.min}${help}`);
  if (ks.max !== undefined && n > ks.max) throw new Error(`${where} must be <= ${ks.max}${help}`);
  return n;
}

/** What every scheduler config holds (each class declares its full type as `ConfigOf<typeof ITS_KEYS>`). */
export type BaseSchedulerConfig = { readonly num_train_timesteps: number } & Readonly<Record<string, unknown>>;

/** Minimal constructor type of a scheduler class (for the registry and fromConfig). */
export interface SchedulerClass<T extends Scheduler = Scheduler> {
  new (config?: SchedulerConfig): T;
  readonly className: string;
  readonly configSpec: ConfigSpec;
}

/** diffusers' file name of a scheduler config. */
export const SCHEDULER_CONFIG_FILE = 'scheduler_config.json';

/** node:fs/promises, loaded only when a file method runs (the schedulers also run in browsers). */
async function nodeFs(): Promise<typeof import('node:fs/promises')> {
  if (typeof process !== 'object' || typeof process.versions?.node !== 'string') {
    throw new Error(
      'fromPretrained / savePretrained need Node.js; in a browser use fromConfig(await (await fetch(url)).json())',
    );
  }
  const specifier = 'node:fs/promises';
  return import(/* @vite-ignore */ specifier) as Promise<typeof import('node:fs/promises')>;
}

const REGISTRY = new Map<string, SchedulerClass>();

/** Make a class reachable by name from `schedulerFromConfig` (each scheduler file registers itself). */
export function registerScheduler(cls: SchedulerClass): void {
  REGISTRY.set(cls.className, cls);
}

/** Names of all registered scheduler classes. @example registeredSchedulers() // ['DDPMScheduler', ...] */
export function registeredSchedulers(): string[] {
  return [...REGISTRY.keys()];
}

/**
 * Build scheduler `name` from a config (of any scheduler class, like diffusers' `XScheduler.from_config(other.config)`).
 * With no name, the config's `_class_name` decides.
 * @example schedulerFromConfig('EulerDiscreteScheduler', ddim.toConfig())
 */
export function schedulerFromConfig(name: string | undefined | null, config: SchedulerConfig | string = {}): Scheduler {
  const cfg = typeof config === 'string' ? (JSON.parse(config) as SchedulerConfig) : config;
  const n = name ?? (cfg._class_name as string | undefined);
  if (!n)
    throw new Error(
      `schedulerFromConfig: no scheduler name given and the config has no _class_name; allowed values: ${listAllowed(registeredSchedulers())}`,
    );
  const cls = REGISTRY.get(n);
  if (!cls)
    throw new Error(
      `schedulerFromConfig: scheduler ${JSON.stringify(n)} is not known; allowed values: ${listAllowed(registeredSchedulers())}`,
    );
  return new cls(cfg);
}

/** True when some registered class (other than `except`) takes this key. */
function knownToOtherScheduler(key: string, except: string): boolean {
  for (const [name, cls] of REGISTRY) if (name !== except && key in cls.configSpec) return true;
  return false;
}

/**
 * Base class: config handling and the diffusers API surface. Subclasses set `static className`,
 * `static configSpec` and implement setTimesteps / step / addNoise.
 */
export abstract class Scheduler {
  /** diffusers' class name (`_class_name` in scheduler_config.json). */
  static readonly className: string = 'Scheduler';
  /** Accepted config keys with defaults and validation. */
  static readonly configSpec: ConfigSpec = {};

  /**
   * The validated config (diffusers' snake_case keys, all defaults filled in). Each class narrows its type
   * with `declare readonly config: ConfigOf<typeof ITS_KEYS>`.
   */
  readonly config: BaseSchedulerConfig;
  /** Warnings collected while configuring (e.g. ignored keys), like diffusers' logger warnings. */
  readonly warnings: string[] = [];
  /** Order of the solver: model evaluations per timestep in `timesteps` (diffusers' `order`). */
  readonly order: number = 1;
  /** Timesteps of the current inference schedule, in visiting order (set by setTimesteps). */
  timesteps: Float64Array = new Float64Array(0);
  /** Number of inference steps of the current schedule (null before setTimesteps). */
  numInferenceSteps: number | null = null;

  /** Keys that took this class's default (diffusers' `_use_default_values`). */
  readonly defaultedKeys: readonly string[];
  private readonly extraMeta: Record<string, unknown> = {};
  /**
   * Keys of the source config that this class does not take but another registered scheduler does
   * (diffusers' hidden config, registered by from_config): written back by toConfig, so a chain
   * A.fromConfig(B.fromConfig(a.toConfig()).toConfig()) returns to a's settings.
   */
  private readonly hiddenConfig: Record<string, unknown> = {};

  constructor(config: SchedulerConfig = {}) {
    const ctor = this.constructor as unknown as SchedulerClass;
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new Error(
        `${ctor.className}: config must be an object of diffusers scheduler keys, got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config}`,
      );
    }
    // Like diffusers' from_config: keys the source scheduler only had by default are not carried over,
    // so each class falls back to its own defaults for them.
    const usedDefaults = Array.isArray(config._use_default_values) ? (config._use_default_values as unknown[]) : [];
    if (usedDefaults.length > 0)
      config = Object.fromEntries(Object.entries(config).filter(([k]) => !usedDefaults.includes(k)));
    const { config: parsed, unknown, defaulted } = parseConfig(ctor.className, ctor.configSpec, config);
    // parseConfig checked every key of the class's spec: the config has the type its spec describes
    this.config = Object.freeze(parsed) as BaseSchedulerConfig;
    this.defaultedKeys = Object.freeze(defaulted);
    for (const k of unknown) if (knownToOtherScheduler(k, ctor.className)) this.hiddenConfig[k] = cloneValue(config[k]);
    const ignored = unknown.filter((k) => !(k in this.hiddenConfig));
    if (ignored.length > 0) {
      const shown = Object.fromEntries(ignored.map((k) => [k, config[k]]));
      this.warnings.push(
        `The config attributes ${JSON.stringify(shown)} were passed to ${ctor.className}, but are not expected and will be ignored. Please verify your scheduler_config.json configuration file.`,
      );
    }
    if (typeof config._diffusers_version === 'string') this.extraMeta._diffusers_version = config._diffusers_version;
  }

  /**
   * Build from a diffusers scheduler config (object or JSON text), as `XScheduler.from_config(config)`.
   * @example const s = DDPMScheduler.fromConfig(JSON.parse(fs.readFileSync('scheduler_config.json', 'utf8')));
   */
  static fromConfig<T extends Scheduler>(
    this: new (
      config?: SchedulerConfig,
    ) => T,
    config: SchedulerConfig | string = {},
  ): T {
    const cfg = typeof config === 'string' ? (JSON.parse(config) as SchedulerConfig) : config;
    return new this(cfg);
  }

  /**
   * Load `scheduler_config.json` from a folder (Node.js), as diffusers' `XScheduler.from_pretrained(dir)`:
   * `dir/scheduler_config.json`, or `dir/scheduler/scheduler_config.json` in a pipeline folder (or
   * `subfolder`). Any scheduler class loads any scheduler's config (the from_config swap).
   * @example const s = await DDIMScheduler.fromPretrained('runs/mnist');
   */
  static async fromPretrained<T extends Scheduler>(
    this: new (
      config?: SchedulerConfig,
    ) => T,
    dir: string,
    o: { subfolder?: string } = {},
  ): Promise<T> {
    const { readFile } = await nodeFs();
    const candidates =
      o.subfolder !== undefined
        ? [`${dir}/${o.subfolder}/${SCHEDULER_CONFIG_FILE}`]
        : [`${dir}/${SCHEDULER_CONFIG_FILE}`, `${dir}/scheduler/${SCHEDULER_CONFIG_FILE}`];
    for (const file of candidates) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new Error(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
      }
      return new this(json as SchedulerConfig);
    }
    throw new Error(`${dir}: no ${SCHEDULER_CONFIG_FILE} (looked for ${candidates.join(' and ')})`);
  }

  /**
   * Write `dir/scheduler_config.json` (Node.js), as diffusers' `save_pretrained`; creates `dir`.
   * @example await scheduler.savePretrained('my-model/scheduler');
   */
  async savePretrained(dir: string): Promise<void> {
    const { mkdir, writeFile, rename } = await nodeFs();
    await mkdir(dir, { recursive: true });
    const file = `${dir}/${SCHEDULER_CONFIG_FILE}`;
    const tmp = `${dir}/.${SCHEDULER_CONFIG_FILE}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.toConfig(), null, 2)}\n`);
    await rename(tmp, file);
  }

  /** The class name diffusers knows this scheduler by. */
  get className(): string {
    return (this.constructor as unknown as SchedulerClass).className;
  }

  /**
   * The config as diffusers writes scheduler_config.json: `_class_name`, every key, `_use_default_values`
   * (the keys left at this class's default; another class loading this config uses its own defaults for
   * them, as diffusers' from_config does) and the hidden keys of other schedulers this config came with.
   * fromConfig(toConfig()) rebuilds an identical scheduler.
   * @example JSON.stringify(scheduler.toConfig(), null, 2)
   */
  toConfig(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.hiddenConfig)) out[k] = cloneValue(v);
    out._class_name = this.className;
    Object.assign(out, this.extraMeta);
    for (const [k, v] of Object.entries(this.config)) out[k] = cloneValue(v);
    if (this.defaultedKeys.length > 0) out._use_default_values = [...this.defaultedKeys];
    return out;
  }

  /** Number of training timesteps (diffusers' `len(scheduler)`). */
  get length(): number {
    return this.config.num_train_timesteps;
  }

  /** Standard deviation of the initial noise: x_T = initNoiseSigma * N(0, I). */
  get initNoiseSigma(): number {
    return 1.0;
  }

  /** Scale the model input at timestep t (identity for VP schedulers; 1/sqrt(sigma^2 + 1) for sigma-based ones). */
  scaleModelInput(sample: NDArray, _timestep?: number): NDArray {
    return sample;
  }

  /** Set the inference schedule: a number of steps, or custom timesteps / sigmas. */
  abstract setTimesteps(arg: number | SetTimestepsOptions): void;

  /** One reverse step from timestep t: model output and current sample -> previous sample. */
  abstract step(modelOutput: NDArray, timestep: number, sample: NDArray, opts?: StepOptions): StepOutput;

  /** Forward-noise clean samples to the given timestep(s) (one per batch element, or one for all). */
  abstract addNoise(originalSamples: NDArray, noise: NDArray, timesteps: number | ArrayLike<number>): NDArray;

  /**
   * setTimesteps' argument for classes that, like diffusers, take only a step count: returns n after
   * checking it (at most num_train_timesteps unless `allowMoreThanTrain`).
   */
  protected stepCountOnly(arg: number | SetTimestepsOptions, allowMoreThanTrain = false): number {
    const { numInferenceSteps, timesteps, sigmas } = timestepsArg(arg);
    const owner = `${this.className}.setTimesteps`;
    if (timesteps !== undefined || sigmas !== undefined)
      throw new Error(
        `${owner}: custom timesteps/sigmas are not supported by this scheduler (as in diffusers); pass numInferenceSteps`,
      );
    checkNumInferenceSteps(numInferenceSteps, this.config.num_train_timesteps, owner, allowMoreThanTrain);
    return numInferenceSteps;
  }

  /** Throw a clear error unless setTimesteps has been called. */
  protected requireTimesteps(): void {
    if (this.numInferenceSteps === null) {
      throw new Error(`${this.className}: call setTimesteps(numInferenceSteps) before step()`);
    }
  }
}

/** Normalise `setTimesteps`' argument. */
export function timestepsArg(arg: number | SetTimestepsOptions | undefined | null): SetTimestepsOptions {
  if (typeof arg === 'number') return { numInferenceSteps: arg };
  if (arg === undefined || arg === null) return {};
  return arg;
}

/**
 * The physical range of a beta table: every beta_t in (0, 1) (alpha_t = 1 - beta_t is a variance
 * ratio), except a last beta of exactly 1 under rescale_betas_zero_snr (zero terminal SNR). Errors
 * name the key that produced the value (trained_betas[i], or beta_start / beta_end) and the range.
 * @example checkBetaRange(Float32Array.of(0.1, 5), { beta_end: 5 }, 'DDPMScheduler') // throws
 */
export function checkBetaRange(betas: ArrayLike<number>, c: Record<string, unknown>, owner: string): void {
  const last = betas.length - 1;
  for (let i = 0; i < betas.length; i++) {
    const b = betas[i];
    if (b > 0 && b < 1) continue;
    if (b === 1 && i === last && c.rescale_betas_zero_snr === true) continue;
    const source =
      c.trained_betas != null
        ? `trained_betas[${i}] = ${b}`
        : `beta_start = ${JSON.stringify(c.beta_start)}, beta_end = ${JSON.stringify(c.beta_end)} (beta_schedule ${JSON.stringify(c.beta_schedule)}) give beta_${i} = ${b}`;
    throw new Error(
      `${owner} config: ${source}; every beta must lie in (0, 1) (alpha_t = 1 - beta_t is a variance ratio)`,
    );
  }
}

/**
 * Base of the schedulers defined by a beta table (all diffusers schedulers here): computes betas, alphas
 * and alphasCumprod (float32, like diffusers) from the config's beta keys.
 */
export abstract class BetaScheduler extends Scheduler {
  declare readonly config: BetaTableConfig & Readonly<Record<string, unknown>>;
  /** beta_t, t = 0..T-1 (float32). */
  readonly betas: Float32Array;
  /** alpha_t = 1 - beta_t (float32). */
  readonly alphas: Float32Array;
  /** alphaBar_t = prod_{s<=t} alpha_s (float32; DDPM eq. 4). */
  readonly alphasCumprod: Float32Array;

  constructor(config: SchedulerConfig = {}) {
    super(config);
    const c = this.config;
    const spec = (this.constructor as unknown as SchedulerClass).configSpec;
    const allowed = (spec.beta_schedule?.values as readonly string[] | undefined) ?? BETA_SCHEDULES;
    this.betas = betasFor(
      {
        num_train_timesteps: c.num_train_timesteps,
        beta_start: c.beta_start,
        beta_end: c.beta_end,
        beta_schedule: c.beta_schedule,
        trained_betas: c.trained_betas,
        rescale_betas_zero_snr: c.rescale_betas_zero_snr ?? false,
      },
      this.className,
      allowed,
    );
    if (c.trained_betas != null && this.betas.length !== c.num_train_timesteps) {
      throw new Error(
        `${this.className} config: trained_betas has ${this.betas.length} values but num_train_timesteps = ${c.num_train_timesteps}; they must match`,
      );
    }
    checkBetaRange(this.betas, c, this.className);
    const { alphas, alphasCumprod } = alphasFromBetas(this.betas);
    this.alphas = alphas;
    this.alphasCumprod = alphasCumprod;
  }

  /**
   * diffusers' fix for zero terminal SNR in sigma-based schedulers: with rescale_betas_zero_snr,
   * alphaBar_{T-1} = 2^-24 (close to 0 without being 0, fp16's smallest subnormal) so that the largest
   * sigma stays finite. Does nothing for classes without that key or with it off.
   */
  protected clampZeroTerminalSnr(): void {
    if (this.config.rescale_betas_zero_snr === true) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24;
  }
}

/**
 * Base of the schedulers that walk their inference grid with a step index (diffusers' `_step_index` /
 * `_begin_index`): the sigma-based k-diffusion-style classes and the DPM-Solver family. The index is set
 * from the first timestep seen (or from setBeginIndex, for pipelines that start part-way, e.g. img2img).
 */
export abstract class StepIndexScheduler extends BetaScheduler {
  protected stepIdx: number | null = null;
  protected beginIdx: number | null = null;

  /** Index of the current timestep in `timesteps` (null until the first scaleModelInput / step). */
  get stepIndex(): number | null {
    return this.stepIdx;
  }

  /** First step index, when a pipeline starts part-way (img2img); see setBeginIndex. */
  get beginIndex(): number | null {
    return this.beginIdx;
  }

  /**
   * Start the next run at timestep index `beginIndex` (diffusers' set_begin_index, used by img2img).
   * @example s.setTimesteps(50); s.setBeginIndex(20);
   */
  setBeginIndex(beginIndex = 0): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0)
      throw new Error(`${this.className}.setBeginIndex: beginIndex = ${beginIndex} must be a non-negative integer`);
    this.beginIdx = beginIndex;
  }

  /**
   * Position of timestep t in the schedule: the second match if t occurs twice (second-order schedulers, and
   * so that a run started part-way does not skip a sigma), else the only one (diffusers' index_for_timestep).
   * A t that does not occur goes to `timestepNotInSchedule`.
   */
  indexForTimestep(t: number, schedule: ArrayLike<number> = this.timesteps): number {
    const hits: number[] = [];
    for (let i = 0; i < schedule.length; i++) if (schedule[i] === t) hits.push(i);
    if (hits.length === 0) return this.timestepNotInSchedule(t);
    return hits.length > 1 ? hits[1] : hits[0];
  }

  /** What indexForTimestep answers for a timestep that is not in the schedule (default: a clear error). */
  protected timestepNotInSchedule(t: number): number {
    throw new Error(`${this.className}: timestep ${t} is not in the current schedule; pass one of scheduler.timesteps`);
  }

  protected initStepIndex(t: number): void {
    this.stepIdx = this.beginIdx ?? this.indexForTimestep(t);
  }

  /** Forget the step and begin index (a new schedule starts a new run). */
  protected resetStepIndex(): void {
    this.stepIdx = null;
    this.beginIdx = null;
  }

  /**
   * Grid positions for add_noise at the given timesteps (diffusers): by timestep before a run has a begin
   * index, else the current step index (inpainting inside the loop) or the begin index (img2img start).
   */
  protected noiseIndices(timesteps: readonly number[]): number[] {
    if (this.beginIdx === null) return timesteps.map((t) => this.indexForTimestep(t));
    const i = this.stepIdx ?? this.beginIdx;
    return timesteps.map(() => i);
  }
}
