import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray, compile, grad, trace, type RandomGenerator, type Value } from '../../src/engine/index.ts';
import { DiffusionObjective, diffusionLoss, type ObjectiveConfig } from '../../src/training/objectives.ts';
import { warmupCosine } from '../../src/training/lr_schedule.ts';
import { Ema } from '../../src/training/ema.ts';
import { assertClose } from '../engine/_gradcheck.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/training/objectives.json', import.meta.url), 'utf8'));
const shape: number[] = fx.shape;
const x0 = new NDArray(shape, fx.x0);
const eps = new NDArray(shape, fx.eps);
const outShape = [shape[0], 2 * shape[1], shape[2], shape[3]];
const out = new NDArray(outShape, fx.out);
/** A generator that returns the fixture's noise. */
const fixedNoise: RandomGenerator = {
  normal: () => eps.clone(),
  uniform: () => {
    throw new Error('unused');
  },
};

async function lossAndGrad(cfg: ObjectiveConfig, modelOut: NDArray) {
  const obj = new DiffusionObjective(Float32Array.from(fx.alphas_cumprod), cfg);
  const batch = obj.makeBatch(x0, fixedNoise, fx.t);
  const specs = [{ name: 'out', shape: modelOut.shape }, ...obj.batchSpecs(shape)];
  const g = trace((o: Value, ...rest: Value[]) => {
    const b = Object.fromEntries(specs.slice(1).map((s, i) => [s.name, rest[i]]));
    const loss = diffusionLoss(o, b, obj);
    return [loss, grad(loss, [o])[0]];
  }, specs);
  const [loss, dOut] = await (await compile(g)).run({ out: modelOut, ...batch });
  return { loss: loss.item(), dOut };
}

for (const c of fx.simple) {
  test(`L_simple on ${c.pred_type}${c.gamma ? ` with min-SNR-${c.gamma}` : ''} equals the paper's formula (torch)`, async () => {
    const eOut = new NDArray(
      shape,
      Array.from({ length: x0.size }, (_, i) => {
        const per = x0.size / shape[0],
          b = Math.floor(i / per),
          r = i % per;
        return out.data[b * 2 * per + r]; // first C channels of the fixture output
      }),
    );
    const { loss, dOut } = await lossAndGrad({ predictionType: c.pred_type, snrGamma: c.gamma ?? undefined }, eOut);
    assertClose([loss], [c.loss], 1e-5, 1e-7, 'loss');
    assertClose(dOut, c.grad, 1e-4, 1e-7, 'd loss / d output');
  });
}

for (const c of fx.hybrid) {
  test(`Improved-DDPM hybrid loss (learned_range, lambda ${c.lam}) equals the paper's formula (torch)`, async () => {
    const { loss, dOut } = await lossAndGrad(
      { predictionType: 'epsilon', varianceType: 'learned_range', vlbWeight: c.lam },
      out,
    );
    assertClose([loss], [c.loss], 1e-4, 1e-6, 'loss');
    // float32 vs float64: the KL's -1 + d + exp(-d) and its gradient 1 - exp(-d) cancel when the model's
    // log-variance is near the posterior's (d ~ 1e-2), costing ~1e-3 relative; hence the atol.
    assertClose(dOut, c.grad, 1e-3, 2e-5, 'd loss / d output (eps and variance channels)');
  });
}

test('bad objective settings name the key and the allowed values', () => {
  const ac = Float32Array.from(fx.alphas_cumprod);
  assert.throws(
    () => new DiffusionObjective(ac, { predictionType: 'noise' as never }),
    /prediction_type 'noise' is not one of epsilon, sample, v_prediction/,
  );
  assert.throws(() => new DiffusionObjective(ac, { snrGamma: -1 }), /snr_gamma must be > 0/);
  assert.throws(
    () => new DiffusionObjective(ac, { varianceType: 'learned_range', predictionType: 'v_prediction' }),
    /learned_range' needs prediction_type 'epsilon'/,
  );
});

test('warm-up + cosine learning rate follows its closed form', () => {
  const lr = warmupCosine({ lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 });
  assertClose([lr(0), lr(9)], [1e-4, 1e-3], 1e-12, 0);
  assertClose([lr(10), lr(60), lr(110)], [1e-3, 1e-4 + 0.5 * 9e-4, 1e-4], 1e-12, 1e-15);
  assert.throws(() => warmupCosine({ lr: -1, totalSteps: 10 }), /lr must be > 0, got -1/);
});

test("EMA follows diffusers' warm-up decay 1 - (1 + step/inv_gamma)^-power", () => {
  const ema = new Ema({ w: NDArray.from([0]) }, { maxDecay: 0.999, power: 0.75 });
  ema.update({ w: NDArray.from([1]) }); // first update: decay 0, copies the weights
  assert.equal(ema.params.w.data[0], 1);
  ema.update({ w: NDArray.from([0]) }); // step 1: decay = 1 - 2^-0.75
  assertClose([ema.params.w.data[0]], [1 - 2 ** -0.75], 1e-6, 0);
  assert.equal(ema.decay(1e9), 0.999);
});
