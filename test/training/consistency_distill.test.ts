/**
 * Consistency distillation (src/training/consistency_distill.ts, Song et al. 2023 Algorithm 2) against numbers
 * worked out here from the paper's formulas, not from the module's own output.
 *
 * Hand case: data N(0, 1) per coordinate, so the teacher's exact denoiser is D(x; sigma) = x / (1 + sigma^2) and the
 * exact consistency function (the probability-flow ODE x(sigma) = x(sigma') sqrt(1 + sigma^2) / sqrt(1 + sigma'^2)
 * followed to sigma_min) is f*(x, sigma) = x sqrt(1 + sigma_min^2) / sqrt(1 + sigma^2). With the grid
 * [sigma_min, 1, 2], x0 = (0.5, -1), z = (1, 2) and the pair (1, 2):
 *   x_{n+1} = x0 + 2 z = (2.5, 3)
 *   Heun 2 -> 1 from x: D1 = x / 5, d1 = (x - D1) / 2 = 0.4 x, x' = x - d1 = 0.6 x; D2 = x' / 2, d2 = 0.3 x;
 *   x^ = x - (d1 + d2) / 2 = 0.65 x = (1.625, 1.95)     (Euler: 0.6 x)
 * and the student at sigma 2 regresses f(x_{n+1}, 2) onto f*(x^, 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NDArray, Philox, compile, trace } from '../../src/engine/index.ts';
import { createModel } from '../../src/models/registry.ts';
import { consistencyPreconditioning } from '../../src/diffusion/consistency.ts';
import { EdmObjective } from '../../src/training/edm_objective.ts';
import {
  consistencyDistill,
  consistencyDistillBatch,
  consistencyGrid,
  consistencyLoss,
  emaTargetUpdate,
  rowDenoiserOfModel,
  teacherOdeStep,
  type RowDenoiser,
} from '../../src/training/consistency_distill.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { adaptModelToScheduler, denoiserOfModel, modelFormulation } from '../../src/pipelines/formulation.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import type { AsyncModelFn } from '../../src/pipelines/generate.ts';
import { saveModelFolder, writeRunInfo } from '../../src/folders/index.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';

const SMIN = 0.002,
  SD = 0.5;
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const rowwise =
  (g: (v: number, s: number) => number): RowDenoiser =>
  async (x, sigmas) => {
    const inner = x.size / x.shape[0];
    return x.map((v, i) => g(v, sigmas[Math.floor(i / inner)]));
  };
const gaussD = rowwise((v, s) => v / (1 + s * s));
const fStar = rowwise((v, s) => (v * Math.sqrt(1 + SMIN * SMIN)) / Math.sqrt(1 + s * s));

test('the teacher step: Heun and Euler from sigma 2 to 1 on N(0, 1) data equal the hand values 0.65 x and 0.6 x', async () => {
  const x = NDArray.from([[2.5, 3]]);
  const h = await teacherOdeStep(gaussD, x, [2], [1], 'heun');
  const e = await teacherOdeStep(gaussD, x, [2], [1], 'euler');
  close(h.data[0], 1.625, 1e-6, 'heun[0]');
  close(h.data[1], 1.95, 1e-6, 'heun[1]');
  close(e.data[0], 1.5, 1e-6, 'euler[0]');
  close(e.data[1], 1.8, 1e-6, 'euler[1]');
  // the exact ODE lands at x sqrt(2 / 5) = 0.632 x: Heun is the closer
  assert.ok(Math.abs(h.data[0] / 2.5 - Math.sqrt(2 / 5)) < Math.abs(e.data[0] / 2.5 - Math.sqrt(2 / 5)));
});

test('one batch: the target, the train-step inputs and the L2 / pseudo-Huber losses equal the hand computation', async () => {
  const x0 = NDArray.from([
    [0.5, -1],
    [0.2, 0.4],
  ]);
  const z = NDArray.from([
    [1, 2],
    [-1, 0.5],
  ]);
  const grid = [SMIN, 1, 2];
  const r = await consistencyDistillBatch({
    x0,
    z,
    n: [1, 0],
    grid,
    teacher: gaussD,
    target: fStar,
    solver: 'heun',
    sigmaData: SD,
    sigmaMin: SMIN,
    noiseLabelScale: 1,
  });
  // row 0: pair (1, 2), the hand case of the file comment
  const xHat0 = [1.625, 1.95];
  const fT0 = xHat0.map((v) => (v * Math.sqrt(1 + SMIN * SMIN)) / Math.sqrt(2));
  // row 1: pair (sigma_min, 1): x_{n+1} = (-0.8, 0.9); Heun 1 -> sigma_min: d1 = x / 2, x' = x + (SMIN - 1) x / 2,
  // d2 = (x' - x' / (1 + SMIN^2)) / SMIN; x^ = x + (SMIN - 1) (d1 + d2) / 2; target f*(x^, sigma_min) = x^
  const xHat1 = [-0.8, 0.9].map((x) => {
    const d1 = x / 2,
      xe = x + (SMIN - 1) * d1;
    const d2 = (xe - xe / (1 + SMIN * SMIN)) / SMIN;
    return x + ((SMIN - 1) * (d1 + d2)) / 2;
  });
  const want = { xNext: [2.5, 3, -0.8, 0.9], xHat: [...xHat0, ...xHat1], fTarget: [...fT0, ...xHat1] };
  for (const k of ['xNext', 'xHat', 'fTarget'] as const)
    want[k].forEach((v, i) => close(r[k].data[i], v, 1e-5, `${k}[${i}]`)); // float32 arrays
  // consistency coefficients at sigma_{n+1} (Song et al. 2023, App. C with epsilon = sigma_min), by hand
  const cSkip = (s: number) => (SD * SD) / ((s - SMIN) ** 2 + SD * SD);
  const cOut = (s: number) => ((s - SMIN) * SD) / Math.sqrt(s * s + SD * SD);
  const cIn = (s: number) => 1 / Math.sqrt(s * s + SD * SD);
  const sHi = [2, 1];
  const xN = want.xNext;
  for (let b = 0; b < 2; b++) {
    close(r.batch.weight.data[b], cOut(sHi[b]) ** 2, 1e-6, `weight[${b}]`);
    close(r.batch.t.data[b], Math.log(sHi[b]) / 4, 1e-6, `t[${b}]`);
    for (let j = 0; j < 2; j++) {
      const i = 2 * b + j;
      close(r.batch.x_t.data[i], cIn(sHi[b]) * xN[i], 1e-6, `x_t[${i}]`);
      close(r.batch.target.data[i], (want.fTarget[i] - cSkip(sHi[b]) * xN[i]) / cOut(sHi[b]), 1e-5, `target[${i}]`);
    }
  }
  // the loss of a student network F = 0, i.e. f = c_skip x: d(f, f-) by hand
  const diff = [0, 1, 2, 3].map((i) => cSkip(sHi[Math.floor(i / 2)]) * xN[i] - want.fTarget[i]);
  const l2 = (diff[0] ** 2 + diff[1] ** 2 + diff[2] ** 2 + diff[3] ** 2) / 4;
  const c = 0.01;
  const ph =
    (Math.sqrt(diff[0] ** 2 + diff[1] ** 2 + c * c) - c + Math.sqrt(diff[2] ** 2 + diff[3] ** 2 + c * c) - c) / 2;
  for (const [metric, value] of [
    ['l2', l2],
    ['pseudo-huber', ph],
  ] as const) {
    const g = trace(
      (F, target, weight) => ({ loss: consistencyLoss(F, { target, weight }, metric, c) }),
      [
        { name: 'F', shape: [2, 2] },
        { name: 'target', shape: [2, 2] },
        { name: 'weight', shape: [2] },
      ],
    );
    const exe = await compile(g);
    const [loss] = await exe.run({ F: NDArray.zeros([2, 2]), target: r.batch.target, weight: r.batch.weight });
    close(loss.item(), value, 1e-5, `${metric} loss`);
  }
});

test('boundary condition: f(x, sigma_min) = x for any network, c_skip = 1 and c_out = 0 at sigma_min', async () => {
  const p = consistencyPreconditioning(SMIN, SD, SMIN);
  assert.equal(p.cSkip, 1);
  assert.equal(p.cOut, 0);
  // far from sigma_min the coefficients approach EDM's (c_skip -> sigma_data^2 / (sigma^2 + sigma_data^2))
  close(consistencyPreconditioning(80, SD, SMIN).cSkip, 0.25 / (79.998 ** 2 + 0.25), 1e-12, 'c_skip(80)');
  const junk: AsyncModelFn = async (x) => x.map((v, i) => 7 * v + i - 3);
  const cfg = { _class_name: 'CMStochasticIterativeScheduler', sigma_min: SMIN, sigma_data: SD, noise_label_scale: 1 };
  assert.equal(modelFormulation(cfg).kind, 'consistency');
  const x = NDArray.from([
    [0.3, -1.2],
    [2, 0.5],
  ]);
  const f = await denoiserOfModel(junk, modelFormulation(cfg))(x, SMIN);
  assert.deepEqual(Array.from(f.data), Array.from(x.data));
  const fr = await rowDenoiserOfModel(junk, modelFormulation(cfg))(x, [SMIN, SMIN]);
  assert.deepEqual(Array.from(fr.data), Array.from(x.data));
  assert.throws(() => consistencyPreconditioning(0.001, SD, SMIN), /must be a finite number >= sigma_min/);
});

test('CMStochasticIterativeScheduler drives an EDM model through the adapter: F = (D - c_skip x) / c_out', async () => {
  // an EDM network on N(0, 1) data: D = x / (1 + sigma^2), F = (D - c_skip^EDM x) / c_out^EDM, label ln(sigma) / 4
  const edmNet: AsyncModelFn = async (xin, t) => {
    const s = Math.exp(4 * t[0]);
    const x = xin.mulScalar(Math.sqrt(s * s + SD * SD));
    const cs = (SD * SD) / (s * s + SD * SD),
      co = (s * SD) / Math.sqrt(s * s + SD * SD);
    return x.map((v) => (v / (1 + s * s) - cs * v) / co);
  };
  const sched = samplingScheduler('cm-stochastic', new EdmObjective({ sigmaData: SD }).schedulerConfig(), {
    clip_denoised: false,
  });
  const fn = adaptModelToScheduler(edmNet, new EdmObjective({ sigmaData: SD }).schedulerConfig(), sched);
  sched.setTimesteps(3);
  const x = NDArray.from([
    [0.7, -1.1],
    [2.5, 0.2],
  ]);
  const t = sched.timesteps[2]; // sigma ~0.47, where c_skip, c_out differ from EDM's by ~0.4%
  const xin = sched.scaleModelInput(x, t);
  const s = (sched as unknown as { sigmas: Float64Array }).sigmas[2];
  const F = await fn(xin, new Float32Array(2).fill(t));
  const cs = (SD * SD) / ((s - SMIN) ** 2 + SD * SD),
    co = ((s - SMIN) * SD) / Math.sqrt(s * s + SD * SD);
  for (let i = 0; i < 4; i++) close(F.data[i], (x.data[i] / (1 + s * s) - cs * x.data[i]) / co, 1e-4, `F[${i}]`);
});

test('the EMA target update theta- <- mu theta- + (1 - mu) theta', () => {
  const target = { w: NDArray.from([1, -2]) };
  emaTargetUpdate(target, { w: NDArray.from([3, 2]) }, 0.95);
  close(target.w.data[0], 1.1, 1e-6, 'w[0]');
  close(target.w.data[1], -1.8, 1e-6, 'w[1]');
  // k updates towards a fixed theta: theta - (theta - theta0) mu^k
  for (let k = 1; k < 10; k++) emaTargetUpdate(target, { w: NDArray.from([3, 2]) }, 0.95);
  close(target.w.data[0], 3 - 2 * 0.95 ** 10, 1e-5, 'w[0] after 10');
  emaTargetUpdate(target, { w: NDArray.from([5, 5]) }, 0);
  assert.deepEqual(Array.from(target.w.data), [5, 5]);
  assert.throws(() => emaTargetUpdate(target, { w: NDArray.from([5, 5]) }, 1.5), /--target-decay 1.5/);
});

test('the Karras grid ascends from sigma_min to sigma_max', () => {
  const g = consistencyGrid(18, SMIN, 80);
  close(g[0], SMIN, 1e-9, 'first');
  close(g[17], 80, 1e-9, 'last');
  const r = (i: number) => (80 ** (1 / 7) + ((17 - i) / 17) * (SMIN ** (1 / 7) - 80 ** (1 / 7))) ** 7;
  for (let i = 0; i < 18; i++) close(g[i], r(i), 1e-9, `sigma ${i}`);
  assert.throws(() => consistencyGrid(1, SMIN, 80), /--grid-steps 1/);
});

test('a distilled student folder samples with `sample` in K steps, exactly the multistep consistency sampler', async () => {
  const model = createModel('mlp-2d');
  const teacher = {
    model,
    weights: model.initParams(new Philox(5)),
    schedulerConfig: new EdmObjective({ sigmaData: SD }).schedulerConfig(),
  };
  const N = 12;
  const r = await consistencyDistill({
    teacher,
    data: openDataSource('moons', { batchSize: 32, seed: 0 }),
    gridSteps: N,
    iterations: 3,
    batchSize: 32,
    lr: 1e-3,
  });
  assert.equal(r.schedulerConfig._class_name, 'CMStochasticIterativeScheduler');
  assert.equal(r.schedulerConfig.num_train_timesteps, N);
  assert.equal(r.schedulerConfig.clip_denoised, false);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-cd-'));
  try {
    saveModelFolder(dir, model.toConfig() as unknown as Record<string, unknown>, r.weights, r.schedulerConfig);
    writeRunInfo(dir, {
      data: { spec: 'moons', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
      nullClass: null,
      step: 3,
    });
    const m = loadTrainedModel(dir);
    assert.equal(modelFormulation(m.schedulerConfig).kind, 'consistency');
    const net = denoiserFor(m.model, m.weights);
    // f from the raw network and the paper's coefficients (label = ln(sigma) / 4, the teacher's)
    const f = async (x: NDArray, s: number) => {
      const cs = (SD * SD) / ((s - SMIN) ** 2 + SD * SD),
        co = ((s - SMIN) * SD) / Math.sqrt(s * s + SD * SD);
      const F = await net(
        x.mulScalar(1 / Math.sqrt(s * s + SD * SD)),
        new Float32Array(x.shape[0]).fill(Math.log(s) / 4),
      );
      return x.map((v, i) => cs * v + co * F.data[i]);
    };
    for (const K of [1, 3]) {
      const got = await sampleLoaded(m, { steps: K, n: 16, seed: 3 });
      // Algorithm 1 on diffusers' K-step sub-grid: indices (K-1-i) floor(N / K) of the N-point Karras ramp
      const ratio = Math.floor(N / K);
      const sig = Array.from({ length: K }, (_, i) => {
        const ramp = (i * ratio) / (N - 1);
        return (80 ** (1 / 7) + ramp * (SMIN ** (1 / 7) - 80 ** (1 / 7))) ** 7;
      });
      const g = new Philox(3);
      let x = await f(g.normal([16, 2]).mulScalar(80), 80);
      for (let i = 1; i <= K; i++) {
        // the sampler draws noise after every step when K > 1 (zero-scaled after the last, at sigma_min)
        const zi = K > 1 ? g.normal([16, 2]) : null;
        if (i === K) break;
        const s = sig[i];
        const k = Math.sqrt(s * s - SMIN * SMIN);
        x = await f(
          x.map((v, j) => v + k * zi!.data[j]),
          s,
        );
      }
      for (let j = 0; j < x.size; j++) close(got.data[j], x.data[j], 2e-4, `K=${K} sample[${j}]`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
