/**
 * Dropout (Srivastava et al. 2014): identity outside withDropoutNoise (inference graphs carry no
 * dropout); inside, y = x [u >= p] / (1 - p) with the caller's uniform draws, checked element by
 * element against that formula evaluated on the host; the draws are consumed in call order and
 * countDropoutNoise sizes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox, compile, trace, type Value } from '../../src/engine/index.ts';
import { Dropout, countDropoutNoise, withDropoutNoise } from '../../src/nn/dropout.ts';

test('Dropout: identity without noise; x [u >= p] / (1 - p) with it, draws taken in call order', async () => {
  const a = new Dropout(0.25),
    b = new Dropout(0.5),
    z = new Dropout(0);
  const fwd = (x: Value) => b.forward(z.forward(a.forward(x)));
  const infer = trace((x: Value) => fwd(x), [{ name: 'x', shape: [2, 3] }]);
  assert.ok(!infer.nodes.some((n) => n.op === 'greater_equal'), 'no dropout ops in the inference graph');
  let need = -1;
  trace(
    (x: Value) => {
      need = countDropoutNoise(() => fwd(x));
      return x;
    },
    [{ name: 'x', shape: [2, 3] }],
  );
  assert.equal(need, 12, 'two active layers of 6 elements each (p = 0 takes no draws)');

  const g = trace(
    (x: Value, u: Value) => withDropoutNoise(u, () => fwd(x)),
    [
      { name: 'x', shape: [2, 3] },
      { name: 'u', shape: [12] },
    ],
  );
  const x = NDArray.from([
    [1, -2, 3],
    [4, 5, -6],
  ]);
  const u = new Philox(7).uniform([12]);
  const [y] = await (await compile(g)).run({ x, u });
  for (let i = 0; i < 6; i++) {
    const first = u.data[i] >= 0.25 ? x.data[i] / 0.75 : 0;
    const want = u.data[6 + i] >= 0.5 ? first / 0.5 : 0;
    assert.ok(
      Math.abs(y.data[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)),
      `element ${i}: ${y.data[i]} vs ${want}`,
    );
  }
  const [x0] = await (await compile(infer)).run({ x });
  assert.deepEqual(Array.from(x0.data), Array.from(x.data));
  assert.throws(
    () =>
      trace(
        (v: Value, w: Value) => withDropoutNoise(w, () => fwd(v)),
        [
          { name: 'x', shape: [2, 3] },
          { name: 'u', shape: [8] },
        ],
      ),
    /the dropout noise has 8 draws but this forward pass needs more/,
  );
});

test('Dropout: the kept fraction is 1 - p and the mean is preserved (10^5 draws)', async () => {
  const d = new Dropout(0.1);
  const N = 100000;
  const g = trace(
    (x: Value, u: Value) => withDropoutNoise(u, () => d.forward(x)),
    [
      { name: 'x', shape: [N] },
      { name: 'u', shape: [N] },
    ],
  );
  const [y] = await (await compile(g)).run({ x: NDArray.full([N], 1), u: new Philox(3).uniform([N]) });
  let kept = 0,
    sum = 0;
  for (let i = 0; i < N; i++) {
    if (y.data[i] !== 0) kept++;
    sum += y.data[i];
  }
  // binomial: sd of the kept fraction = sqrt(0.09 / N) ~ 1e-3; 5 sd bounds
  assert.ok(Math.abs(kept / N - 0.9) < 5e-3, `kept fraction ${kept / N}`);
  assert.ok(Math.abs(sum / N - 1) < 6e-3, `mean ${sum / N}`);
});
