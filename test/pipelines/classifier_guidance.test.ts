/**
 * Classifier guidance: (1) with the exact eps of a Gaussian mixture and the exact noisy classifier
 * p(y = k | x_t) = w_k N_k,t(x_t) / p_t(x_t), guidance at scale 1 samples component k exactly (the guided
 * score is grad log [p_t(x) p(k | x)] = grad log w_k N_k,t(x)), checked by KS against N(mu_k, s_k^2);
 * (2) the engine's gradient of log p_phi(y | x_t, t) against central finite differences of the network's
 * own probabilities; (3) the trainer learns a separable two-class problem.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { GaussianMixture } from '../../src/data/gaussian_mixture.ts';
import { erf, ksStatistic } from '../../src/data/gmm_conditional.ts';
import { schedulerFromConfig, type BetaScheduler } from '../../src/samplers/index.ts';
import { generate } from '../../src/pipelines/generate.ts';
import {
  ClassifierGradient,
  classifierGuidedModel,
  type ClassLogProbGradient,
} from '../../src/pipelines/classifier_guidance.ts';
import { NoisyClassifier, validateNoisyClassifierConfig } from '../../src/models/noisy_classifier.ts';
import { trainNoisyClassifier } from '../../src/training/train_noisy_classifier.ts';
import type { DataSource } from '../../src/data/data_source.ts';

const gmm = new GaussianMixture({
  weights: [0.6, 0.3, 0.1],
  means: [
    [-1.5, 0],
    [1.5, 1],
    [0, -2],
  ],
  stds: [0.4, 0.3, 0.5],
});

/** grad_x log p(k | x_t) = (c mu_k - x) / var_k - score_t(x), c = sqrt(abar), var_k = abar s_k^2 + 1 - abar. */
function exactClassifier(alphasCumprod: ArrayLike<number>): ClassLogProbGradient {
  return {
    async gradLogProb(x, t, labels) {
      const a = alphasCumprod[t[0]],
        c = Math.sqrt(a);
      const score = gmm.score(x, { alphaBar: a });
      const g = new NDArray(x.shape);
      for (let b = 0; b < x.shape[0]; b++) {
        const k = labels[b],
          v = a * gmm.stds[k] ** 2 + 1 - a;
        for (let j = 0; j < 2; j++)
          g.data[2 * b + j] = (c * gmm.means[2 * k + j] - x.data[2 * b + j]) / v - score.data[2 * b + j];
      }
      return { grad: g };
    },
  };
}

test('classifier guidance (scale 1) with the exact classifier samples the chosen component exactly (KS)', async () => {
  const s = schedulerFromConfig('DDPMScheduler', { clip_sample: false }) as BetaScheduler;
  const eps = gmm.epsilonModel(s.alphasCumprod);
  const model = async (x: NDArray, t: Float32Array) => eps(x, t[0]);
  const N = 2000;
  for (const k of [2, 1]) {
    const guided = classifierGuidedModel(model, exactClassifier(s.alphasCumprod), {
      alphasCumprod: s.alphasCumprod,
      classLabels: new Array(N).fill(k),
      scale: 1,
    });
    const x = await generate(guided, s, { shape: [N, 2], steps: 100, generator: new Philox(k) });
    for (const j of [0, 1]) {
      const mu = gmm.means[2 * k + j],
        sd = gmm.stds[k];
      const ks = ksStatistic(
        Array.from({ length: N }, (_, i) => x.data[2 * i + j]),
        (v) => 0.5 * (1 + erf((v - mu) / (sd * Math.SQRT2))),
      );
      assert.ok(ks < 1.95 / Math.sqrt(N), `class ${k}, coordinate ${j}: KS ${ks}`);
    }
  }
});

for (const [kind, cfg] of [
  ['vectors (MLP)', { sample_shape: [3], num_classes: 4, channels: [16, 16], time_embedding_dim: 8 }],
  [
    'images (conv + dense head)',
    { sample_shape: [1, 6, 6], num_classes: 4, channels: [4, 4], time_embedding_dim: 8, head_dim: 8 },
  ],
] as const)
  test(`ClassifierGradient, ${kind}: grad_x log p(y | x_t, t) equals central finite differences of log probs`, async () => {
    const net = new NoisyClassifier(validateNoisyClassifierConfig(cfg));
    const clf = new ClassifierGradient(net, net.initParams(new Philox(5)));
    const D = cfg.sample_shape.reduce((a: number, b: number) => a * b, 1);
    const x = new Philox(6).normal([2, ...cfg.sample_shape]),
      t = Float32Array.from([10, 700]),
      y = [1, 3];
    const { grad, logProb } = await clf.gradLogProb(x, t, y);
    const p0 = await clf.probs(x, t);
    for (let b = 0; b < 2; b++) assert.ok(Math.abs(logProb.data[b] - Math.log(p0.data[b * 4 + y[b]])) < 1e-5);
    const h = 1e-2;
    for (let i = 0; i < x.size; i++) {
      const plus = x.clone(),
        minus = x.clone();
      plus.data[i] += h;
      minus.data[i] -= h;
      const pp = await clf.probs(plus, t),
        pm = await clf.probs(minus, t);
      const b = Math.floor(i / D);
      const fd = (Math.log(pp.data[b * 4 + y[b]]) - Math.log(pm.data[b * 4 + y[b]])) / (2 * h);
      assert.ok(
        Math.abs(grad.data[i] - fd) < 2e-3 + 2e-2 * Math.abs(fd),
        `d/dx[${i}]: autodiff ${grad.data[i]} vs finite difference ${fd}`,
      );
    }
    await assert.rejects(() => clf.gradLogProb(x, t, [1, 4]), /class 4 is not in 0..3/);
  });

test('trainNoisyClassifier learns two separated classes at low noise (engine TrainStep, cosine lr)', async () => {
  const two = new GaussianMixture({
    weights: [1, 1],
    means: [
      [-2, 0],
      [2, 0],
    ],
    stds: 0.5,
  });
  let rng = new Philox(11);
  const data: DataSource = {
    describe: () => ({ spec: 'two', kind: 'toy2d', sampleShape: [2], numClasses: 2, size: null }),
    next: () => {
      const x = two.sample(64, rng);
      return { x, labels: Int32Array.from({ length: 64 }, (_, i) => (x.data[2 * i] > 0 ? 1 : 0)) };
    },
    state: () => null,
    restore: () => {
      rng = new Philox(11);
    },
    reference: (n, seed) => two.sample(n, new Philox(seed)),
  };
  const net = new NoisyClassifier(
    validateNoisyClassifierConfig({ sample_shape: [2], num_classes: 2, channels: [32, 32] }),
  );
  const { weights, losses } = await trainNoisyClassifier(net, data, {
    steps: 300,
    lr: 5e-3,
    seed: 0,
    noiseSchedule: {},
  });
  const head = losses.slice(0, 20).reduce((a, v) => a + v, 0) / 20,
    tail = losses.slice(-20).reduce((a, v) => a + v, 0) / 20;
  assert.ok(tail < head * 0.8, `loss ${head} -> ${tail}`);
  const clf = new ClassifierGradient(net, weights);
  const x = two.sample(500, new Philox(12));
  const p = await clf.probs(x, new Float32Array(500).fill(5));
  let ok = 0;
  for (let i = 0; i < 500; i++) if (p.data[2 * i + 1] > 0.5 === x.data[2 * i] > 0) ok++;
  assert.ok(ok / 500 > 0.95, `accuracy at t = 5: ${ok / 500}`);
  assert.throws(
    () => validateNoisyClassifierConfig({ sample_shape: [2, 2], num_classes: 2 }),
    /sample_shape = \[2,2\] must be \[C, H, W\]/,
  );
});
