import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveRk45 } from '../../src/eval/metrics/rk45.ts';

// Closed-form ODE solutions (references independent of the solver).

test("y' = -y: y(t) = e^-t, error shrinks with the tolerance", async () => {
  const f = (_t: number, y: Float64Array) => y.map((v) => -v);
  const loose = await solveRk45(f, 0, 5, Float64Array.of(1), { rtol: 1e-4, atol: 1e-8 });
  const tight = await solveRk45(f, 0, 5, Float64Array.of(1), { rtol: 1e-10, atol: 1e-14 });
  const exact = Math.exp(-5);
  const eLoose = Math.abs(loose.y[0] - exact),
    eTight = Math.abs(tight.y[0] - exact);
  assert.ok(eLoose < 1e-4 * exact * 10, `loose error ${eLoose}`);
  assert.ok(eTight < 1e-9 * exact, `tight error ${eTight}`);
  assert.ok(tight.steps > loose.steps, 'tighter tolerance takes more steps');
  // FSAL: 6 evaluations per attempted step, + 1 initial + 1 for the starting-step heuristic
  assert.equal(tight.nfe, 6 * (tight.steps + tight.rejected) + 2);
});

test("harmonic oscillator x'' = -x: (cos t, -sin t) after several periods", async () => {
  const f = (_t: number, y: Float64Array) => Float64Array.of(y[1], -y[0]);
  const T = 4 * Math.PI + 1;
  const r = await solveRk45(f, 0, T, Float64Array.of(1, 0), { rtol: 1e-9, atol: 1e-12 });
  assert.ok(Math.abs(r.y[0] - Math.cos(T)) < 1e-7, `x ${r.y[0]} vs ${Math.cos(T)}`);
  assert.ok(Math.abs(r.y[1] + Math.sin(T)) < 1e-7, `v ${r.y[1]} vs ${-Math.sin(T)}`);
});

test('polynomial right-hand sides in t: cubic in one step (both embedded formulas exact), quartic exact at any step', async () => {
  // y' = 4 t^3 - 3 t^2 + 1 -> y(2) - y(0) = 16 - 8 + 2 = 10; the 4th-order companion is exact too, so err = 0
  const cubic = await solveRk45((t) => Float64Array.of(4 * t ** 3 - 3 * t * t + 1), 0, 2, [0], {
    rtol: 1e-12,
    atol: 1e-12,
    firstStep: 2,
  });
  assert.ok(Math.abs(cubic.y[0] - 10) < 1e-12, String(cubic.y[0]));
  assert.equal(cubic.steps, 1);
  assert.equal(cubic.rejected, 0);
  // y' = 5 t^4: the propagated 5th-order solution integrates it exactly whatever the steps (y(2) = 32)
  const quartic = await solveRk45((t) => Float64Array.of(5 * t ** 4), 0, 2, [0], { rtol: 1e-3, atol: 1e-3 });
  assert.ok(Math.abs(quartic.y[0] - 32) < 1e-12, String(quartic.y[0]));
});

test('logistic equation backwards in time: y = 1 / (1 + 9 e^-t)', async () => {
  const exact = (t: number) => 1 / (1 + 9 * Math.exp(-t));
  const f = (_t: number, y: Float64Array) => y.map((v) => v * (1 - v));
  const r = await solveRk45(f, 6, -2, Float64Array.of(exact(6)), { rtol: 1e-9, atol: 1e-12 });
  assert.ok(Math.abs(r.y[0] - exact(-2)) < 1e-9 * 10, `${r.y[0]} vs ${exact(-2)}`);
});

test('a stiff-ish linear system (eigenvalues -1 and -50) matches the matrix exponential', async () => {
  // y' = diag(-1, -50) y in a rotated basis: y = R diag(e^-t, e^-50t) R^T y0
  const c = Math.cos(0.3),
    s = Math.sin(0.3);
  const A = [
    [-(c * c) - 50 * s * s, -c * s + 50 * c * s],
    [-c * s + 50 * c * s, -(s * s) - 50 * c * c],
  ];
  const f = (_t: number, y: Float64Array) =>
    Float64Array.of(A[0][0] * y[0] + A[0][1] * y[1], A[1][0] * y[0] + A[1][1] * y[1]);
  const y0 = [1, 2];
  const r = await solveRk45(f, 0, 1, Float64Array.from(y0), { rtol: 1e-8, atol: 1e-10 });
  const u = [c * y0[0] + s * y0[1], -s * y0[0] + c * y0[1]];
  const v = [u[0] * Math.exp(-1), u[1] * Math.exp(-50)];
  const exact = [c * v[0] - s * v[1], s * v[0] + c * v[1]];
  assert.ok(Math.abs(r.y[0] - exact[0]) < 1e-7 && Math.abs(r.y[1] - exact[1]) < 1e-7, `${r.y} vs ${exact}`);
});

test('bad options and a non-finite right-hand side give clear errors', async () => {
  const f = (_t: number, y: Float64Array) => y;
  await assert.rejects(solveRk45(f, 0, 1, [1], { rtol: -1 }), /rtol = -1 must be a finite number > 0/);
  await assert.rejects(
    solveRk45(() => Float64Array.of(NaN), 0, 1, [1]),
    /not finite at t = 0/,
  );
  await assert.rejects(
    solveRk45(() => new Float64Array(2), 0, 1, [1]),
    /expected a Float64Array of length 1/,
  );
  await assert.rejects(
    solveRk45((_t, y) => y.map((v) => v * v), 0, 2, [1], { maxSteps: 50 }),
    /gave up after 50 steps|underflow/,
  );
  const same = await solveRk45(f, 1, 1, [3]);
  assert.deepEqual([...same.y], [3]);
  assert.equal(same.nfe, 0);
});
