/**
 * Adaptive Dormand–Prince 5(4) Runge–Kutta solver ("RK45", the default of scipy's solve_ivp and the
 * solver Song et al. 2021 use for probability-flow likelihoods, appendix D.2).
 *
 * Method: J. R. Dormand and P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comp. Appl.
 * Math. 6 (1980), table 2 (RK5(4)7M): seven stages, the 5th-order solution propagated (local
 * extrapolation), the embedded 4th-order solution for the error estimate, first-same-as-last (the 7th
 * stage is f at the new point, reused as the 1st stage of the next step, so 6 evaluations per step).
 * Step-size control and the starting step follow Hairer, Nørsett & Wanner, "Solving Ordinary
 * Differential Equations I", sec. II.4: the error norm
 *     err = sqrt( mean_i ( e_i / (atol + rtol * max(|y_i|, |y_new_i|)) )^2 ),
 * accept when err <= 1, next step h * min(facMax, max(facMin, 0.9 * err^(-1/5))) (eq. 4.13), and the
 * initial-step heuristic of II.4 ("Starting step size", one extra evaluation).
 *
 * The right-hand side is asynchronous (model evaluations run on ONNX Runtime); the state is a flat
 * Float64Array. Integration may run forwards (t1 > t0) or backwards (t1 < t0).
 *
 * @example
 *   // y' = -y, y(0) = 1  ->  y(1) = e^-1
 *   const r = await solveRk45(async (t, y) => y.map((v) => -v), 0, 1, Float64Array.of(1), { rtol: 1e-8, atol: 1e-10 });
 *   r.y[0];   // 0.36787944...
 *   r.nfe;    // number of right-hand-side evaluations
 */

/** Right-hand side f(t, y) -> dy/dt (same length as y). */
export type OdeRhs = (t: number, y: Float64Array) => Promise<Float64Array> | Float64Array;

export interface Rk45Options {
  /** Relative tolerance (default 1e-5, as Song et al. 2021 use for likelihoods). */
  rtol?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** First step size (default: Hairer's starting-step heuristic, one extra evaluation). */
  firstStep?: number;
  /** Largest step size (default: |t1 - t0|). */
  maxStep?: number;
  /** Give up after this many steps (accepted + rejected; default 10000). */
  maxSteps?: number;
  /** Bounds of the step-size factor per step (defaults 0.2 and 10, Hairer eq. 4.13). */
  facMin?: number;
  facMax?: number;
  /** Safety factor (default 0.9). */
  safety?: number;
}

export interface Rk45Result {
  /** The solution at t1. */
  y: Float64Array;
  /** Right-hand-side evaluations. */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected steps. */
  rejected: number;
}

// Dormand & Prince (1980), table 2: nodes c, coefficients a, 5th-order weights b and b - b* (b* the 4th-order weights).
const C2 = 1 / 5,
  C3 = 3 / 10,
  C4 = 4 / 5,
  C5 = 8 / 9;
const A21 = 1 / 5;
const A31 = 3 / 40,
  A32 = 9 / 40;
const A41 = 44 / 45,
  A42 = -56 / 15,
  A43 = 32 / 9;
const A51 = 19372 / 6561,
  A52 = -25360 / 2187,
  A53 = 64448 / 6561,
  A54 = -212 / 729;
const A61 = 9017 / 3168,
  A62 = -355 / 33,
  A63 = 46732 / 5247,
  A64 = 49 / 176,
  A65 = -5103 / 18656;
const B1 = 35 / 384,
  B3 = 500 / 1113,
  B4 = 125 / 192,
  B5 = -2187 / 6784,
  B6 = 11 / 84;
// error weights e = b - b*, b* = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40)
const E1 = 35 / 384 - 5179 / 57600,
  E3 = 500 / 1113 - 7571 / 16695,
  E4 = 125 / 192 - 393 / 640;
const E5 = -2187 / 6784 + 92097 / 339200,
  E6 = 11 / 84 - 187 / 2100,
  E7 = -1 / 40;

function positive(v: number, what: string): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
    throw new Error(`solveRk45: ${what} = ${v} must be a finite number > 0`);
  return v;
}

/** Hairer's RMS error norm (sec. II.4, eq. 4.11). */
function rmsNorm(v: Float64Array, scale: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const r = v[i] / scale[i];
    s += r * r;
  }
  return Math.sqrt(s / Math.max(1, v.length));
}

async function call(f: OdeRhs, t: number, y: Float64Array, n: number): Promise<Float64Array> {
  const d = await f(t, y);
  if (!(d instanceof Float64Array) || d.length !== n) {
    throw new Error(
      `solveRk45: the right-hand side returned ${d instanceof Float64Array ? `length ${d.length}` : String(d)}; expected a Float64Array of length ${n}`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(d[i]))
      throw new Error(`solveRk45: the right-hand side is not finite at t = ${t} (component ${i} = ${d[i]})`);
  }
  return d;
}

/**
 * Integrate y' = f(t, y) from t0 to t1 with the adaptive Dormand–Prince 5(4) method (see the module doc).
 * @example const { y, nfe } = await solveRk45((t, y) => Float64Array.of(Math.cos(t)), 0, Math.PI / 2, Float64Array.of(0));
 */
export async function solveRk45(
  f: OdeRhs,
  t0: number,
  t1: number,
  y0: ArrayLike<number>,
  options: Rk45Options = {},
): Promise<Rk45Result> {
  const { rtol, atol, maxSteps, facMin, facMax, safety } = stepControl(options);
  if (!(Number.isFinite(t0) && Number.isFinite(t1)))
    throw new Error(`solveRk45: t0 = ${t0} and t1 = ${t1} must be finite`);
  const n = y0.length;
  let y = Float64Array.from(y0);
  if (t0 === t1) return { y, nfe: 0, steps: 0, rejected: 0 };
  const dir = Math.sign(t1 - t0);
  const span = Math.abs(t1 - t0);
  const maxStep = options.maxStep !== undefined ? positive(options.maxStep, 'maxStep') : span;

  let nfe = 0;
  const ev = async (t: number, yy: Float64Array) => {
    nfe++;
    return call(f, t, yy, n);
  };
  let k1 = await ev(t0, y);

  let h =
    options.firstStep !== undefined
      ? Math.min(positive(options.firstStep, 'firstStep'), span)
      : await initialStepSize(ev, t0, y, k1, { atol, rtol, span, dir });
  h = Math.min(h, maxStep);

  let t = t0;
  let steps = 0,
    rejected = 0;
  let lastRejected = false;
  const yt = new Float64Array(n);
  const yNew = new Float64Array(n);
  const err = new Float64Array(n);
  const scale = new Float64Array(n);
  while (dir * (t1 - t) > 0) {
    if (steps + rejected >= maxSteps) {
      throw new Error(
        `solveRk45: gave up after ${maxSteps} steps at t = ${t} (from ${t0} to ${t1}); the ODE is stiff or the tolerances (rtol ${rtol}, atol ${atol}) are too tight — raise maxSteps or the tolerances`,
      );
    }
    const remaining = Math.abs(t1 - t);
    let last = false;
    if (h >= remaining) {
      h = remaining;
      last = true;
    }
    if (h < 1e-14 * Math.max(1, Math.abs(t)))
      throw new Error(
        `solveRk45: step size underflow (h = ${h}) at t = ${t}; the solution is not smooth enough for rtol ${rtol}, atol ${atol}`,
      );
    const s = dir * h;
    const tNew = last ? t1 : t + s;
    const { k7, e } = await dormandPrinceStep(ev, t, y, k1, s, tNew, { yNew, yt, err, scale, atol, rtol });
    if (e <= 1) {
      t = tNew;
      y = Float64Array.from(yNew);
      k1 = k7;
      steps++;
      // Hairer eq. 4.13; no growth right after a rejection.
      const fac = e === 0 ? facMax : Math.min(facMax, Math.max(facMin, safety * e ** -0.2));
      h = Math.min(maxStep, h * (lastRejected ? Math.min(1, fac) : fac));
      lastRejected = false;
    } else {
      rejected++;
      h *= Math.max(facMin, safety * e ** -0.2);
      lastRejected = true;
    }
  }
  return { y, nfe, steps, rejected };
}

type Evaluate = (t: number, y: Float64Array) => Promise<Float64Array>;

/**
 * Starting step size (Hairer, Norsett & Wanner, Sec. II.4): h0 from |y0| and |f0|, refined by one explicit
 * Euler step (one evaluation of f).
 */
async function initialStepSize(
  ev: Evaluate,
  t0: number,
  y: Float64Array,
  k1: Float64Array,
  o: { atol: number; rtol: number; span: number; dir: number },
): Promise<number> {
  const n = y.length;
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) scale[i] = o.atol + o.rtol * Math.abs(y[i]);
  const d0 = rmsNorm(y, scale),
    d1 = rmsNorm(k1, scale);
  let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  h0 = Math.min(h0, o.span);
  const y1 = new Float64Array(n);
  for (let i = 0; i < n; i++) y1[i] = y[i] + o.dir * h0 * k1[i];
  const f1 = await ev(t0 + o.dir * h0, y1);
  const diff = new Float64Array(n);
  for (let i = 0; i < n; i++) diff[i] = f1[i] - k1[i];
  const d2 = rmsNorm(diff, scale) / h0;
  const h1 = Math.max(d1, d2) <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  return Math.min(100 * h0, h1, o.span);
}

/**
 * One Dormand–Prince 5(4) step of signed size s from (t, y) with k1 = f(t, y): the fifth-order solution in
 * `w.yNew`, f there (k7, the next step's k1: FSAL) and the RMS norm e of the embedded error estimate scaled
 * by atol + rtol max(|y|, |yNew|) (the step is accepted when e <= 1). `w` holds the work arrays.
 */
async function dormandPrinceStep(
  ev: Evaluate,
  t: number,
  y: Float64Array,
  k1: Float64Array,
  s: number,
  tNew: number,
  w: { yNew: Float64Array; yt: Float64Array; err: Float64Array; scale: Float64Array; atol: number; rtol: number },
): Promise<{ k7: Float64Array; e: number }> {
  const { yNew, yt, err, scale } = w;
  const n = y.length;
  for (let i = 0; i < n; i++) yt[i] = y[i] + s * A21 * k1[i];
  const k2 = await ev(t + C2 * s, yt);
  for (let i = 0; i < n; i++) yt[i] = y[i] + s * (A31 * k1[i] + A32 * k2[i]);
  const k3 = await ev(t + C3 * s, yt);
  for (let i = 0; i < n; i++) yt[i] = y[i] + s * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
  const k4 = await ev(t + C4 * s, yt);
  for (let i = 0; i < n; i++) yt[i] = y[i] + s * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
  const k5 = await ev(t + C5 * s, yt);
  for (let i = 0; i < n; i++) yt[i] = y[i] + s * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
  const k6 = await ev(t + s, yt);
  for (let i = 0; i < n; i++) yNew[i] = y[i] + s * (B1 * k1[i] + B3 * k3[i] + B4 * k4[i] + B5 * k5[i] + B6 * k6[i]);
  const k7 = await ev(tNew, yNew); // FSAL: f at the new point, the next step's k1
  for (let i = 0; i < n; i++) {
    err[i] = s * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
    scale[i] = w.atol + w.rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
  }
  return { k7, e: rmsNorm(err, scale) };
}

/** The step-size control of the options with their defaults, checked (positive; maxSteps a positive integer). */
function stepControl(options: Rk45Options): {
  rtol: number;
  atol: number;
  maxSteps: number;
  facMin: number;
  facMax: number;
  safety: number;
} {
  const maxSteps = options.maxSteps ?? 10000;
  const rtol = positive(options.rtol ?? 1e-5, 'rtol');
  const atol = positive(options.atol ?? 1e-5, 'atol');
  if (!(Number.isInteger(maxSteps) && maxSteps >= 1))
    throw new Error(`solveRk45: maxSteps = ${maxSteps} must be a positive integer`);
  return {
    rtol,
    atol,
    maxSteps,
    facMin: positive(options.facMin ?? 0.2, 'facMin'),
    facMax: positive(options.facMax ?? 10, 'facMax'),
    safety: positive(options.safety ?? 0.9, 'safety'),
  };
}
