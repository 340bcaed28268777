/**
 * Progressive distillation's training target (src/training/distill.ts) against a hand-computed case, and the
 * grid / student config against their definitions.
 *
 * Hand computation: data N(0, 1) per coordinate, so the exact denoiser is D(x; sigma) = x / (1 + sigma^2). From
 * x = 1 at sigma = 2, the teacher's two DDIM steps 2 -> 1 -> 0.5:
 *   D1 = 1/5 = 0.2,  x' = 0.2 + (1/2)(1 - 0.2) = 0.6;  D2 = 0.6 / 2 = 0.3,  x'' = 0.3 + (0.5/1)(0.6 - 0.3) = 0.45
 * and the student's one step 2 -> 0.5 lands on x'' iff D~ + (0.5/2)(1 - D~) = 0.45, i.e. D~ = 0.2 / 0.75 = 4/15.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { ddimStepVe, distillationTarget, distillSigma } from '../../src/training/distill.ts';
import { EDMEulerScheduler } from '../../src/samplers/edm_euler.ts';

const D = (x: NDArray, sigma: number) => x.map((v) => v / (1 + sigma * sigma));

test('distillation target equals the hand-computed value (two teacher DDIM steps -> one student step)', () => {
  const x = NDArray.from([1]);
  const x1 = ddimStepVe(x, D(x, 2), 2, 1);
  assert.ok(Math.abs(x1.data[0] - 0.6) < 1e-7);
  const x2 = ddimStepVe(x1, D(x1, 1), 1, 0.5);
  assert.ok(Math.abs(x2.data[0] - 0.45) < 1e-7);
  const t = distillationTarget(x, x2, 2, 0.5);
  assert.ok(Math.abs(t.data[0] - 4 / 15) < 1e-7, `target ${t.data[0]}`);
  // a student that outputs the target lands exactly where the teacher did
  assert.ok(Math.abs(ddimStepVe(x, t, 2, 0.5).data[0] - 0.45) < 1e-7);
  // the last step (to sigma = 0): the target is the teacher's result itself
  assert.equal(distillationTarget(x, NDArray.from([0.3]), 2, 0).data[0], Math.fround(0.3));
  assert.throws(() => distillationTarget(x, x, 1, 2), /need sigma > sigmaNext >= 0/);
});

test('the grids of N and 2N steps nest, and the student EDMEulerScheduler config reproduces the K-step grid', () => {
  const sMax = 80,
    rho = 7;
  for (let i = 0; i <= 4; i++) assert.equal(distillSigma(i / 4, sMax, rho), distillSigma((2 * i) / 8, sMax, rho));
  assert.equal(distillSigma(1, sMax, rho), 0);
  const K = 4;
  const s = EDMEulerScheduler.fromConfig({ sigma_min: sMax * K ** -rho, sigma_max: sMax, rho });
  s.setTimesteps(K);
  for (let i = 0; i <= K; i++)
    assert.ok(
      Math.abs(s.sigmas[i] - distillSigma(i / K, sMax, rho)) <= 1e-6 * sMax,
      `sigma ${i}: ${s.sigmas[i]} vs ${distillSigma(i / K, sMax, rho)}`,
    );
});
