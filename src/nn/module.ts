/**
 * Module: a tree of named parameters with PyTorch-like ergonomics, whose dotted names equal the
 * state-dict names of the same architecture in diffusers (`down_blocks.0.resnets.0.conv1.weight`),
 * so checkpoints move between diffuse and diffusers without renaming.
 *
 * A Module only *describes* parameters (shape + initialisation). Their values live outside, in a
 * `Record<string, NDArray>` (host) or `Record<string, Value>` (inside a trace, where parameters are
 * graph inputs). `withParams(module, params, fn)` binds a record to the module's `Parameter`
 * objects (by identity, after checking names and shapes) for the duration of `fn`; inside,
 * `this.weight.value` is the bound Value.
 *
 * @example
 *   class Affine extends Module {
 *     readonly weight = this.param('weight', [3], init.ones());
 *     forward(x: Value): Value { return mul(x, this.weight.value); }
 *   }
 *   const m = new Affine();
 *   const params = m.initParams(new Philox(0));                 // { weight: NDArray [3] }
 *   const g = trace((x, w) => withParams(m, { weight: w }, () => m.forward(x)),
 *     [{ name: 'x', shape: ['batch', 3] }, { name: 'w', shape: [3] }]);
 */
import { NDArray, type Value, constant, formatShape, type RandomGenerator } from '../engine/index.ts';

/** How a parameter is initialised (PyTorch defaults are expressed with these). */
export type Init =
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'constant'; value: number };

/** Initialisers. @example init.uniform(1 / Math.sqrt(fanIn)) // U(-b, b) */
export const init = {
  /** U(-bound, bound). */
  uniform: (bound: number): Init => ({ kind: 'uniform', low: -bound, high: bound }),
  /** N(mean, std^2). */
  normal: (std = 1, mean = 0): Init => ({ kind: 'normal', mean, std }),
  constant: (value: number): Init => ({ kind: 'constant', value }),
  zeros: (): Init => ({ kind: 'constant', value: 0 }),
  ones: (): Init => ({ kind: 'constant', value: 1 }),
};

/**
 * The bound applied by PyTorch's default init of Linear/Conv weights and biases:
 * kaiming_uniform_(a = sqrt(5)) gives U(-b, b) with b = gain sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2))
 * = sqrt(1/3), i.e. b = 1 / sqrt(fan_in); the bias uses the same bound (torch.nn.Linear.reset_parameters).
 *
 * @example torchDefaultBound(64) // 0.125
 */
export function torchDefaultBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}

interface Binding {
  value: Value;
  name: string;
}
const bindings: Map<Parameter, Binding>[] = [];

/** One parameter of a Module: its shape and initialiser; `.value` is its traced Value inside `withParams`. */
export class Parameter {
  constructor(
    readonly shape: readonly number[],
    readonly init: Init,
    readonly localName: string,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0)
        throw new Error(
          `Parameter '${localName}': invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`,
        );
    }
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The Value bound to this parameter by the innermost enclosing `withParams`. */
  get value(): Value {
    for (let i = bindings.length - 1; i >= 0; i--) {
      const b = bindings[i].get(this);
      if (b) return b.value;
    }
    throw new Error(
      `parameter '${this.localName}' [${this.shape.join(', ')}] is not bound: run the module's forward inside withParams(module, params, fn)`,
    );
  }
}

type Entry = Parameter | Module | Module[];

/** Base class of all layers and models. Subclasses register parameters and children in their constructor. */
export class Module {
  private readonly entries = new Map<string, Entry>();

  /** Register a parameter under `name` (a single path component). */
  protected param(name: string, shape: readonly number[], initialiser: Init): Parameter {
    const p = new Parameter(shape, initialiser, name);
    this.register(name, p);
    return p;
  }

  /** Register a child module under `name`; its parameters are named `name.<...>`. Returns the child. */
  protected child<M extends Module>(name: string, m: M): M {
    if (!(m instanceof Module))
      throw new Error(`${this.constructor.name}.child('${name}'): expected a Module, got ${String(m)}`);
    this.register(name, m);
    return m;
  }

  /** Register a list of children (like torch.nn.ModuleList): names `name.0`, `name.1`, ... */
  protected children<M extends Module>(name: string, ms: M[]): M[] {
    ms.forEach((m, i) => {
      if (!(m instanceof Module))
        throw new Error(`${this.constructor.name}.children('${name}'): item ${i} is not a Module`);
    });
    this.register(name, ms);
    return ms;
  }

  private register(name: string, e: Entry): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(
        `${this.constructor.name}: invalid parameter/child name '${name}' (use letters, digits and '_', no dots)`,
      );
    if (this.entries.has(name)) throw new Error(`${this.constructor.name}: '${name}' is registered twice`);
    this.entries.set(name, e);
  }

  /** All parameters with their full dotted names, depth first in registration order (PyTorch's order). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [name, e] of this.entries) {
      const full = prefix + name;
      if (e instanceof Parameter) out.push([full, e]);
      else if (e instanceof Module) out.push(...e.namedParameters(full + '.'));
      else e.forEach((m, i) => out.push(...m.namedParameters(`${full}.${i}.`)));
    }
    return out;
  }

  /** Parameter shapes by full name. @example model.parameterShapes()['conv_in.weight'] // [32, 1, 3, 3] */
  parameterShapes(): Record<string, number[]> {
    return Object.fromEntries(this.namedParameters().map(([n, p]) => [n, [...p.shape]]));
  }

  /** Total number of scalar parameters. */
  numParameters(): number {
    return this.namedParameters().reduce((s, [, p]) => s + p.size, 0);
  }

  /**
   * Fresh parameter values drawn from `generator` with each parameter's initialiser (PyTorch's
   * default distributions), in `namedParameters()` order.
   *
   * @example const params = model.initParams(new Philox(0));
   */
  initParams(generator: RandomGenerator): Record<string, NDArray> {
    const out: Record<string, NDArray> = {};
    for (const [name, p] of this.namedParameters()) {
      const i = p.init;
      if (i.kind === 'constant') out[name] = NDArray.full(p.shape, i.value);
      else if (i.kind === 'uniform') {
        const u = generator.uniform(p.shape);
        const span = i.high - i.low;
        for (let k = 0; k < u.size; k++) u.data[k] = i.low + span * u.data[k];
        out[name] = u;
      } else {
        const z = generator.normal(p.shape);
        for (let k = 0; k < z.size; k++) z.data[k] = i.mean + i.std * z.data[k];
        out[name] = z;
      }
    }
    return out;
  }
}

type ParamLike = Value | NDArray | { readonly shape: readonly (number | string)[] };

/**
 * Check that `params` has exactly the parameters of `module` with the right shapes; throws an Error
 * naming every missing, unexpected and wrong-shape entry. Works for NDArrays, Values or any
 * `{ shape }` (e.g. tensors read from a safetensors file).
 *
 * @example checkParams(model, loaded, 'ckpt/diffusion_pytorch_model.safetensors');
 */
export function checkParams(module: Module, params: Record<string, ParamLike>, where = 'params'): void {
  const expected = module.namedParameters();
  const names = new Set(expected.map(([n]) => n));
  const problems: string[] = [];
  for (const [name, p] of expected) {
    const v = params[name];
    if (v === undefined) problems.push(`missing parameter '${name}' of shape [${p.shape.join(', ')}]`);
    else if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
      problems.push(
        `parameter '${name}' has shape [${formatShape(v.shape)}], the model expects [${p.shape.join(', ')}]`,
      );
    }
  }
  for (const name of Object.keys(params))
    if (!names.has(name)) problems.push(`unexpected parameter '${name}' (not part of ${module.constructor.name})`);
  if (problems.length > 0) {
    const shown =
      problems.slice(0, 12).join('; ') + (problems.length > 12 ? `; ... (${problems.length - 12} more)` : '');
    throw new Error(
      `${where}: ${problems.length} problem(s) with the parameters of ${module.constructor.name}: ${shown}`,
    );
  }
}

/**
 * Run `fn` with `module`'s parameters bound to `params` (full dotted names -> traced Values, or
 * NDArrays that are embedded as constants). Names and shapes are checked first (see `checkParams`).
 * Bindings nest; the innermost wins. Must be called inside `trace()` when NDArrays are given.
 *
 * @example
 *   const y = withParams(model, p, () => model.forward(x, t));
 */
export function withParams<T>(module: Module, params: Record<string, Value | NDArray>, fn: () => T): T {
  checkParams(module, params, 'withParams');
  const map = new Map<Parameter, Binding>();
  for (const [name, p] of module.namedParameters()) {
    const v = params[name];
    map.set(p, { name, value: v instanceof NDArray ? constant(v) : v });
  }
  bindings.push(map);
  try {
    return fn();
  } finally {
    bindings.pop();
  }
}
