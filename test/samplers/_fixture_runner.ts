/**
 * Runs the cases of test/fixtures/diffusers/<family>.json (made by tools/fixtures/diffusers_schedulers.py,
 * which runs diffusers' own scheduler code under PyTorch) against our scheduler classes and compares
 * timesteps, sigmas, init_noise_sigma, per-step statistics, full prev_sample tensors, add_noise and the
 * final sample.
 *
 * Loop convention (the fixture's `loop` field): x = sample0 * init_noise_sigma; for t in timesteps:
 *   m = model(scale_model_input(x, t), t); x = step(m, t, x, **step_kwargs).prev_sample.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NDArray } from '../../src/engine/ndarray.ts';
import type { RandomGenerator } from '../../src/engine/rng.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import type { Scheduler, StepOptions } from '../../src/samplers/scheduler.ts';
import { dummyDeter, dummyModel } from './_diffusers_dummy.ts';

const f32 = Math.fround;

export interface FixtureCase {
  id: string;
  class: string;
  config: Record<string, unknown>;
  full_config: Record<string, unknown>;
  num_inference_steps: number;
  set_timesteps_kwargs?: Record<string, unknown>;
  timesteps: number[];
  sigmas?: number[];
  init_noise_sigma: number;
  seed: number | null;
  step_kwargs: Record<string, unknown>;
  steps: {
    i: number;
    t: number;
    model_input_abs_sum: number;
    sum: number;
    mean: number;
    abs_sum: number;
    pred_original_sample_abs_sum?: number;
  }[];
  prev_sample_full: Record<string, number[]>;
  randn_calls?: { step: number; shape: number[] }[];
  final: { sum: number; mean: number; abs_sum: number };
  add_noise?: { timestep: number; result: number[]; sum: number; mean: number; abs_sum: number };
}

export interface Fixture {
  generator: string;
  sample_shape: number[];
  sample0_values: number[];
  cases: FixtureCase[];
}

/**
 * Read test/fixtures/diffusers/<family>.json. Values where diffusers' run ends in NaN (e.g. UniPC bh1 with a
 * final sigma of 0) are null there.
 */
export function loadFixture(family: string): Fixture {
  return JSON.parse(readFileSync(new URL(`../fixtures/diffusers/${family}.json`, import.meta.url), 'utf8')) as Fixture;
}

export { dummyModel };

/** dummy_noise_deter for the fixture's shape (arange flipped, laid out like dummy_sample_deter). */
export function noise0(shape: readonly number[]): NDArray {
  return dummyDeter(true, shape);
}

/**
 * One test per case of each fixture family, each checked by checkCase (seeded cases draw from
 * TorchGenerator(seed), as diffusers' torch.manual_seed).
 * @example runFixtureFamilies([['ddim', (c) => DDIMScheduler.fromConfig(c)]])
 */
export function runFixtureFamilies(
  families: ReadonlyArray<readonly [string, (config: Record<string, unknown>) => Scheduler]>,
): void {
  for (const [family, make] of families) {
    const fx = loadFixture(family);
    for (const c of fx.cases) {
      test(`${c.class} ${c.id} equals diffusers (${family}.json)`, () => {
        checkCase(fx, c, make, { makeGenerator: (seed) => new TorchGenerator(seed) });
      });
    }
  }
}

function stats(x: NDArray): { sum: number; mean: number; abs_sum: number } {
  let s = 0,
    a = 0;
  for (const v of x.data) {
    s += v;
    a += Math.abs(v);
  }
  return { sum: s, mean: s / x.size, abs_sum: a };
}

/** |a - b| <= atol + rtol |b| */
export function close(a: number, b: number, rtol: number, atol: number, what: string): void {
  if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
    assert.fail(`${what}: got ${a}, expected ${b} (|diff| ${Math.abs(a - b)}, rtol ${rtol}, atol ${atol})`);
  }
}

export function allClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length ${a.length} vs ${b.length}`);
  let worst = -1,
    worstErr = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) assert.fail(`${what}[${worst}]: got ${a[worst]}, expected ${b[worst]} (rtol ${rtol}, atol ${atol})`);
}

export interface RunOptions {
  /** Relative tolerance of per-step sums and elementwise prev_sample (float32 rounding, accumulated). */
  rtol?: number;
  /** Absolute tolerance, as a fraction of max |expected| of the tensor compared. */
  atolFrac?: number;
  /** A generator for seeded cases. */
  makeGenerator?: (seed: number) => RandomGenerator;
  /** Translate the fixture's step_kwargs (snake_case) into StepOptions. */
  stepOptions?: (kwargs: Record<string, unknown>) => StepOptions;
  /** Extra checks on the scheduler after setTimesteps (e.g. sigmas). */
  afterSetTimesteps?: (s: Scheduler, c: FixtureCase) => void;
}

export function defaultStepOptions(kw: Record<string, unknown>): StepOptions {
  const o: StepOptions = {};
  for (const [k, v] of Object.entries(kw)) {
    const camel = k.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()) as keyof StepOptions;
    (o as Record<string, unknown>)[camel] = v;
  }
  return o;
}

/**
 * Run one fixture case with a scheduler built by `make(config)` and assert equality with diffusers.
 * Returns the final sample.
 */
export function checkCase(
  fx: Fixture,
  c: FixtureCase,
  make: (config: Record<string, unknown>) => Scheduler,
  opts: RunOptions = {},
): NDArray {
  const rtol = opts.rtol ?? 1e-5;
  const atolFrac = opts.atolFrac ?? 1e-6;
  const s = make(c.config);
  // config round trip: every key diffusers stores, with the same value
  const cfg = s.toConfig();
  for (const [k, v] of Object.entries(c.full_config)) {
    assert.deepEqual(cfg[k], v, `${c.id}: config key ${k}`);
  }
  s.setTimesteps(c.num_inference_steps);
  const ts = Array.from(s.timesteps);
  allClose(ts, c.timesteps, 1e-6, 0, `${c.id}: timesteps`);
  if (c.sigmas && 'sigmas' in s)
    allClose((s as unknown as { sigmas: Float32Array }).sigmas, c.sigmas, 2e-6, 1e-9, `${c.id}: sigmas`);
  close(s.initNoiseSigma, c.init_noise_sigma, 2e-6, 0, `${c.id}: init_noise_sigma`);
  opts.afterSetTimesteps?.(s, c);

  const shape = fx.sample_shape;
  const sample0 = new NDArray(shape, Float32Array.from(fx.sample0_values));
  const stepOpts = (opts.stepOptions ?? defaultStepOptions)(c.step_kwargs);
  if (c.seed !== null) {
    if (!opts.makeGenerator) throw new Error(`${c.id}: seeded case needs makeGenerator`);
    stepOpts.generator = opts.makeGenerator(c.seed);
  }
  const init = f32(s.initNoiseSigma);
  let x = sample0.map((v) => v * init);
  assert.equal(s.timesteps.length, c.steps.length, `${c.id}: number of steps`);
  s.timesteps.forEach((t, i) => {
    const inp = s.scaleModelInput(x, t);
    const ref = c.steps[i];
    close(t, ref.t, 1e-6, 0, `${c.id}: step ${i} t`);
    close(stats(inp).abs_sum, ref.model_input_abs_sum, rtol, 1e-6, `${c.id}: step ${i} model_input_abs_sum`);
    const out = s.step(dummyModel(inp, t), t, x, stepOpts);
    x = out.prevSample;
    const st = stats(x);
    const scale = Math.max(1e-6, ref.abs_sum / x.size);
    close(st.sum, ref.sum, rtol, atolFrac * x.size * scale * 10, `${c.id}: step ${i} (t=${t}) sum`);
    close(st.abs_sum, ref.abs_sum, rtol, atolFrac * x.size * scale * 10, `${c.id}: step ${i} (t=${t}) abs_sum`);
    if (ref.pred_original_sample_abs_sum !== undefined && out.predOriginalSample) {
      close(
        stats(out.predOriginalSample).abs_sum,
        ref.pred_original_sample_abs_sum,
        rtol,
        1e-6,
        `${c.id}: step ${i} pred_original_sample abs_sum`,
      );
    }
    const full = c.prev_sample_full[String(i)];
    if (full) {
      const maxAbs = full.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      allClose(x.data, full, rtol, atolFrac * maxAbs, `${c.id}: step ${i} prev_sample`);
    }
  });
  const fin = stats(x);
  close(fin.sum, c.final.sum, rtol, atolFrac * x.size, `${c.id}: final sum`);
  close(fin.abs_sum, c.final.abs_sum, rtol, atolFrac * x.size, `${c.id}: final abs_sum`);
  if (c.add_noise) {
    // the same schedule position as diffusers' timestep (our float32 timestep may differ by an ulp where
    // NumPy's float32 log table differs from a correctly rounded log, see sigma fixtures)
    const pos = c.timesteps.findIndex((t) => Math.fround(t) === Math.fround(c.add_noise!.timestep));
    assert.ok(pos >= 0, `${c.id}: add_noise timestep ${c.add_noise.timestep} not among the fixture timesteps`);
    const an = s.addNoise(sample0, noise0(shape), [s.timesteps[pos]]);
    const maxAbs = c.add_noise.result.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    allClose(an.data, c.add_noise.result, 1e-6, 1e-7 * maxAbs, `${c.id}: add_noise`);
  }
  return x;
}
