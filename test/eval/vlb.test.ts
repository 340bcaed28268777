import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray, Philox, type RandomGenerator } from '../../src/engine/index.ts';
import { variationalBound, type VlbVarianceType } from '../../src/eval/metrics/vlb.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { linearBetas, alphasFromBetas } from '../../src/schedules/betas.ts';

// Golden values: tools/fixtures/eval_vlb_torch.py (float64 torch implementation of DDPM eq. 5 and the
// Improved-DDPM terms), written to test/fixtures/eval/vlb.json.
const fx = JSON.parse(readFileSync(new URL('../fixtures/eval/vlb.json', import.meta.url), 'utf8'));
const T: number = fx.alphas_cumprod.length;

for (const c of fx.cases) {
  test(`VLB ${c.id} equals the torch implementation of the papers' bound`, async () => {
    const x0 = new NDArray(c.shape, c.x0);
    const N = c.shape[0],
      D = x0.size / N,
      C = c.shape[1];
    const noise = new NDArray([T * N, ...c.shape.slice(1)], c.noise);
    const gen: RandomGenerator = {
      normal: () => noise,
      uniform: () => {
        throw new Error('unused');
      },
    };
    // the fixture's toy model: a_t x + b_t (+ a variance channel tanh(c_t x) for learned_range)
    const model = async (x: NDArray, t: Float32Array) => {
      const B = x.shape[0];
      const learned = c.variance === 'learned_range';
      const out = new NDArray([B, learned ? 2 * C : C, ...x.shape.slice(2)]);
      const per = D,
        oPer = out.size / B;
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < per; j++) {
          const v = x.data[b * per + j];
          out.data[b * oPer + j] = fx.a_t[t[b]] * v + fx.b_t[t[b]];
          if (learned) out.data[b * oPer + per + j] = Math.tanh(fx.c_t[t[b]] * v);
        }
      }
      return out;
    };
    const r = await variationalBound(model, x0, {
      alphasCumprod: fx.alphas_cumprod,
      varianceType: c.variance as VlbVarianceType,
      predictionType: c.prediction,
      decoder: c.decoder,
      generator: gen,
      batchSize: T * N,
    });
    for (let i = 0; i < N; i++) {
      const want = c.total_nats[i];
      assert.ok(
        Math.abs(r.perPoint[i] - want) < 2e-4 * Math.abs(want) + 1e-4,
        `point ${i}: ${r.perPoint[i]} nats vs torch ${want}`,
      );
    }
    const meanBpd = c.total_bpd.reduce((a: number, b: number) => a + b, 0) / N;
    assert.ok(Math.abs(r.bitsPerDim.mean - meanBpd) < 2e-4 * meanBpd, `bits/dim ${r.bitsPerDim.mean} vs ${meanBpd}`);
    const prior = (c.prior_bpd.reduce((a: number, b: number) => a + b, 0) / N) * D * Math.LN2;
    assert.ok(
      Math.abs(r.terms.prior - prior) < 1e-6 * prior,
      `prior term ${r.terms.prior} vs ${prior} (x0 is float32 here)`,
    );
    assert.equal(r.termsEvaluated, T * N);
    assert.equal(r.modelCalls, 1);
  });
}

test('stratified timesteps estimate the full bound without bias (mixture with its exact eps)', async () => {
  // A 1000-step linear schedule and the exact eps of a 2-D mixture: the full bound vs the stratified estimate,
  // and the bound is above the true NLL (-log p, the mixture's own density) as a bound must be.
  const { alphasCumprod } = alphasFromBetas(linearBetas(1e-4, 0.02, 1000));
  const gmm = new GaussianMixture({
    weights: [0.5, 0.5],
    means: [
      [-1, 0],
      [1, 0],
    ],
    stds: [0.3, 0.4],
  });
  const eps = gmm.epsilonModel(alphasCumprod);
  const model = async (x: NDArray, t: Float32Array) => eps(x, t);
  const x0 = gmm.sample(32, new Philox(1));
  const base = {
    alphasCumprod,
    varianceType: 'fixed_large' as const,
    predictionType: 'epsilon',
    decoder: 'continuous' as const,
    batchSize: 4096,
  };
  const full = await variationalBound(model, x0, { ...base, generator: new Philox(2) });
  const est = await variationalBound(model, x0, { ...base, timesteps: 50, generator: new Philox(3) });
  const diff = Array.from(est.perPoint, (v, i) => v - full.perPoint[i]);
  const m = diff.reduce((a, b) => a + b, 0) / diff.length;
  const sd = Math.sqrt(diff.reduce((a, b) => a + (b - m) ** 2, 0) / (diff.length - 1));
  assert.ok(Math.abs(m) < (4 * sd) / Math.sqrt(diff.length) + 0.01, `stratified - full = ${m} (sd ${sd})`);
  assert.equal(est.termsEvaluated, 32 * 51);
  const nll = Array.from(gmm.logDensity(x0), (v) => -v).reduce((a, b) => a + b, 0) / 32;
  assert.ok(full.nats.mean > nll - 3 * full.nats.se!, `bound ${full.nats.mean} vs true NLL ${nll}`);
  assert.ok(full.nats.mean < nll + 0.5, `bound ${full.nats.mean} is loose vs true NLL ${nll}`);
});

test('bad VLB settings name the key and the allowed values', async () => {
  const m = async (x: NDArray) => x;
  const base = {
    alphasCumprod: [0.9, 0.5, 0.1],
    varianceType: 'fixed_small' as const,
    predictionType: 'epsilon',
    decoder: 'continuous' as const,
    generator: new Philox(0),
  };
  await assert.rejects(
    variationalBound(m, NDArray.zeros([2, 2]), { ...base, varianceType: 'learned' as never }),
    /variance_type 'learned' is not supported \(allowed: fixed_small, fixed_large, learned_range\)/,
  );
  await assert.rejects(
    variationalBound(m, NDArray.zeros([2, 2]), { ...base, timesteps: 7 }),
    /timesteps = 7 must be 'all' or an integer in 1..2/,
  );
  await assert.rejects(
    variationalBound(m, NDArray.zeros([2, 2]), { ...base, varianceType: 'learned_range' }),
    /needs a model with 2 x 2 output channels/,
  );
});
