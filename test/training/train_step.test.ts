import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NDArray, add, matmul, mean, mul, sub, tanh } from '../../src/engine/index.ts';
import { TrainStep } from '../../src/training/train_step.ts';
import { runMlpRegression } from '../../src/cli/demo.ts';
import { assertClose } from '../engine/_gradcheck.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/training/adamw.json', import.meta.url), 'utf8'));

for (const c of fx.cases) {
  test(`compiled AdamW step equals torch.optim.AdamW (max_norm ${c.max_norm})`, async () => {
    const params = {
      w1: new NDArray([3, 4], c.init.w1),
      b1: new NDArray([4], c.init.b1),
      w2: new NDArray([4, 1], c.init.w2),
    };
    const ts = await TrainStep.create(
      (p, b) => {
        const d = sub(matmul(tanh(add(matmul(b.x, p.w1), p.b1)), p.w2), b.y);
        return mean(mul(d, d));
      },
      params,
      [
        { name: 'x', shape: [8, 3] },
        { name: 'y', shape: [8, 1] },
      ],
      { optimizer: { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 }, maxGradNorm: c.max_norm ?? undefined },
    );
    const batch = { x: new NDArray([8, 3], c.x), y: new NDArray([8, 1], c.y) };
    for (let s = 0; s < c.lrs.length; s++) {
      const { loss, gradNorm } = await ts.step(batch, c.lrs[s]);
      assertClose([loss], [c.losses[s]], 1e-5, 1e-7, `loss at step ${s}`);
      if (c.max_norm !== null) assertClose([gradNorm!], [c.grad_norms[s]], 1e-5, 1e-7, `grad norm at step ${s}`);
      for (const k of ['w1', 'b1', 'w2']) assertClose(ts.params[k], c.params[s][k], 1e-5, 1e-6, `${k} after step ${s}`);
    }
  });
}

test('MLP example: the loss falls and the same seed gives the same loss curve bit for bit', async () => {
  const a = await runMlpRegression({ steps: 120, seed: 5 });
  const b = await runMlpRegression({ steps: 120, seed: 5 });
  const c = await runMlpRegression({ steps: 120, seed: 6 });
  const head = a.slice(0, 10).reduce((s, v) => s + v, 0) / 10;
  const tail = a.slice(-10).reduce((s, v) => s + v, 0) / 10;
  assert.ok(tail < head / 10, `loss should fall at least 10x: first-10 mean ${head}, last-10 mean ${tail}`);
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer), 'same seed, same bits');
  assert.notDeepEqual(Buffer.from(a.buffer), Buffer.from(c.buffer), 'another seed, another curve');
});

test('bad optimizer settings are rejected naming the key', async () => {
  await assert.rejects(
    TrainStep.create((p) => mean(p.w), { w: NDArray.zeros([2]) }, [], { optimizer: { beta1: 1.5 } }),
    /beta1 must be in \[0, 1\), got 1.5/,
  );
  await assert.rejects(
    TrainStep.create((p) => mean(p.w), { w: NDArray.zeros([2]) }, [], { maxGradNorm: -1 }),
    /maxGradNorm must be > 0/,
  );
});

test('gradient accumulation over 2 half batches equals torch.optim.AdamW on the full batch', async () => {
  const c = fx.cases[1];
  const params = {
    w1: new NDArray([3, 4], c.init.w1),
    b1: new NDArray([4], c.init.b1),
    w2: new NDArray([4, 1], c.init.w2),
  };
  const ts = await TrainStep.create(
    (p, b) => {
      const d = sub(matmul(tanh(add(matmul(b.x, p.w1), p.b1)), p.w2), b.y);
      return mean(mul(d, d));
    },
    params,
    [
      { name: 'x', shape: [4, 3] },
      { name: 'y', shape: [4, 1] },
    ],
    { optimizer: { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 }, maxGradNorm: c.max_norm, gradAccumSteps: 2 },
  );
  const half = (h: number) => ({
    x: new NDArray([4, 3], c.x.slice(12 * h, 12 * h + 12)),
    y: new NDArray([4, 1], c.y.slice(4 * h, 4 * h + 4)),
  });
  for (let s = 0; s < c.lrs.length; s++) {
    const { loss, gradNorm } = await ts.step([half(0), half(1)], c.lrs[s]);
    assertClose([loss], [c.losses[s]], 1e-5, 1e-7, `loss at step ${s}`);
    assertClose([gradNorm!], [c.grad_norms[s]], 1e-5, 1e-7, `grad norm at step ${s}`);
    for (const k of ['w1', 'b1', 'w2']) assertClose(ts.params[k], c.params[s][k], 1e-5, 1e-6, `${k} after step ${s}`);
  }
  await assert.rejects(ts.step(half(0), 1e-3), /got 1 micro-batches, configured for gradAccumSteps = 2/);
});
