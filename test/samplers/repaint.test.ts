/**
 * RePaintScheduler against diffusers' own RePaintScheduler + RePaintPipeline loop
 * (test/fixtures/diffusers/repaint.json, made by tools/fixtures/diffusers_repaint.py): config keys,
 * the jump schedule, every step / undo_step, and the final sample, with torch.manual_seed draws
 * reproduced by TorchGenerator.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import { RePaintScheduler, repaintTimesteps } from '../../src/samplers/repaint.ts';
import { schedulerFromConfig } from '../../src/samplers/index.ts';
import { repaint } from '../../src/pipelines/inpaint.ts';
import { allClose, close, dummyModel } from './_fixture_runner.ts';

interface Step {
  i: number;
  t: number;
  kind: 'step' | 'undo';
  sum: number;
  abs_sum: number;
  pred_original_abs_sum?: number;
}
interface Case {
  id: string;
  config: Record<string, unknown>;
  full_config: Record<string, unknown>;
  num_inference_steps: number;
  jump_length: number;
  jump_n_sample: number;
  eta: number;
  seed: number;
  timesteps: number[];
  initial_sample: number[];
  steps: Step[];
  sample_full: Record<string, number[]>;
  final_full: number[];
  final: { sum: number; abs_sum: number };
  variance: Record<string, number>;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/diffusers/repaint.json', import.meta.url), 'utf8')) as {
  sample_shape: number[];
  original_image: number[];
  mask: number[];
  cases: Case[];
};
const shape = fx.sample_shape;
const original = new NDArray(shape, fx.original_image);
const mask = new NDArray(shape, fx.mask);

function stats(x: NDArray) {
  let s = 0,
    a = 0;
  for (const v of x.data) {
    s += v;
    a += Math.abs(v);
  }
  return { sum: s, abs_sum: a };
}

for (const c of fx.cases) {
  test(`RePaintScheduler ${c.id}: every step and undo_step equal diffusers`, () => {
    const s = RePaintScheduler.fromConfig(c.config);
    const cfg = s.toConfig();
    for (const [k, v] of Object.entries(c.full_config)) assert.deepEqual(cfg[k], v, `${c.id}: config key ${k}`);
    s.setTimesteps({
      numInferenceSteps: c.num_inference_steps,
      jumpLength: c.jump_length,
      jumpNSample: c.jump_n_sample,
    });
    s.eta = c.eta;
    assert.deepEqual(Array.from(s.timesteps), c.timesteps, `${c.id}: timesteps`);
    for (const [t, v] of Object.entries(c.variance))
      close(s.getVariance(Number(t)), v, 1e-6, 1e-12, `${c.id}: variance(${t})`);
    const g = new TorchGenerator(c.seed);
    let x = g.normal(shape);
    allClose(x.data, c.initial_sample.map(Math.fround), 0, 0, `${c.id}: initial randn`);
    let tLast = s.timesteps[0] + 1;
    s.timesteps.forEach((t, i) => {
      const ref = c.steps[i];
      if (t < tLast) {
        assert.equal(ref.kind, 'step', `${c.id}: step ${i} kind`);
        const out = s.step(dummyModel(x, t), t, x, { originalSample: original, mask, generator: g } as never);
        x = out.prevSample;
        close(
          stats(out.predOriginalSample!).abs_sum,
          ref.pred_original_abs_sum!,
          1e-5,
          1e-6,
          `${c.id}: step ${i} pred_original abs_sum`,
        );
      } else {
        assert.equal(ref.kind, 'undo', `${c.id}: step ${i} kind`);
        x = s.undoStep(x, tLast, g);
      }
      tLast = t;
      const st = stats(x);
      close(st.sum, ref.sum, 1e-5, 1e-4, `${c.id}: step ${i} (t=${t}, ${ref.kind}) sum`);
      close(st.abs_sum, ref.abs_sum, 1e-5, 1e-4, `${c.id}: step ${i} (t=${t}, ${ref.kind}) abs_sum`);
      const full = c.sample_full[String(i)];
      if (full) allClose(x.data, full, 1e-5, 1e-5, `${c.id}: sample after step ${i}`);
    });
    allClose(x.data, c.final_full, 1e-5, 1e-5, `${c.id}: final sample`);
  });

  test(`repaint() pipeline ${c.id}: the RePaintPipeline loop's final sample`, async () => {
    const s = schedulerFromConfig('RePaintScheduler', c.config) as RePaintScheduler;
    const model = async (x: NDArray, t: Float32Array) => dummyModel(x, t[0]);
    const out = await repaint(model, s, {
      known: original,
      mask,
      steps: c.num_inference_steps,
      jumpLength: c.jump_length,
      jumpNSample: c.jump_n_sample,
      eta: c.eta,
      generator: new TorchGenerator(c.seed),
    });
    allClose(out.data, c.final_full, 1e-5, 1e-5, `${c.id}: final sample`);
  });
}

test('repaintTimesteps: the jump schedule of RePaint (j = 2, r = 2: every second step point is revisited once)', () => {
  const units = [9, 8, 7, 6, 7, 8, 7, 6, 5, 4, 5, 6, 5, 4, 3, 2, 3, 4, 3, 2, 1, 0, 1, 2, 1, 0];
  assert.deepEqual(
    repaintTimesteps(1000, 10, 2, 2),
    units.map((u) => u * 100),
  );
  assert.deepEqual(repaintTimesteps(10, 4, 10, 10), [6, 4, 2, 0]); // fewer steps than one jump: no resampling; units of T // n = 2
});

test('RePaintScheduler: clear errors', () => {
  const s = RePaintScheduler.fromConfig({});
  assert.throws(() => s.step(original, 900, original, { originalSample: original, mask } as never), /setTimesteps/);
  s.setTimesteps(10);
  assert.throws(() => s.step(original, 900, original, {}), /originalSample, mask/);
  assert.throws(
    () => s.step(original, 900, original, { originalSample: original, mask: new NDArray([3]) } as never),
    /mask has shape \[3\]/,
  );
  assert.throws(() => s.setTimesteps({ numInferenceSteps: 10, jumpLength: 0 }), /jumpLength = 0/);
  assert.throws(() => RePaintScheduler.fromConfig({ eta: -1 }), /eta = -1 must be >= 0/);
  assert.throws(() => s.addNoise(original, original, 10), /DDPMScheduler.addNoise/);
});
