/**
 * The terms of the variational bound (Ho et al. 2020 eq. 5; Nichol & Dhariwal 2021 sec. 2) as traced
 * ops: the KL between the true posterior q(x_{t-1} | x_t, x0) and the model's p(x_{t-1} | x_t), and
 * the decoder -log p(x0 | x1) at t = 0, in bits per dimension. Used by the hybrid loss of learned
 * variances (training/objectives.ts) and by the bits/dim evaluation (eval/metrics/vlb.ts).
 *
 * @example
 *   const c = vlbCoefficients(alphasCumprod, t);                          // host constants of timestep t
 *   const bits = vlbTermPerSample(eps, v, { x_t, x0, ...cInputs }, 'discretized');   // [B]
 */
import {
  add,
  clip,
  div,
  exp,
  greater,
  log,
  mean,
  mul,
  reshape,
  square,
  sub,
  tanh,
  where,
  type Value,
} from '../engine/index.ts';

/** How L_vlb scores x0 at t = 0: a discretised Gaussian over 256 bins (images in [-1, 1]) or a continuous Gaussian. */
export type DecoderType = 'discretized' | 'continuous';

/** Names of the per-sample graph inputs of the VLB terms (values from `vlbCoefficients`). */
export const VLB_COEFFS = [
  'sqrt_recip_abar',
  'sqrt_recipm1_abar',
  'post_coef1',
  'post_coef2',
  'post_logvar',
  'log_beta',
  'is_t0',
] as const;

/** Per-timestep constants of the true posterior q(x_{t-1} | x_t, x0) (DDPM eqs. 6–7), float64 like Improved DDPM. */
export function vlbCoefficients(
  alphasCumprod: ArrayLike<number>,
  t: number,
): Record<(typeof VLB_COEFFS)[number], number> {
  const abar = alphasCumprod[t];
  const abarPrev = t > 0 ? alphasCumprod[t - 1] : 1;
  const beta = 1 - abar / abarPrev;
  const postVar = (beta * (1 - abarPrev)) / (1 - abar);
  // Improved DDPM clips the log posterior variance at t = 0 (where it is 0) to its value at t = 1.
  const postVar1 = (() => {
    const a1 = alphasCumprod[1],
      a0 = alphasCumprod[0];
    return ((1 - a1 / a0) * (1 - a0)) / (1 - a1);
  })();
  return {
    sqrt_recip_abar: Math.sqrt(1 / abar),
    sqrt_recipm1_abar: Math.sqrt(1 / abar - 1),
    post_coef1: (beta * Math.sqrt(abarPrev)) / (1 - abar),
    post_coef2: ((1 - abarPrev) * Math.sqrt(1 - beta)) / (1 - abar),
    post_logvar: Math.log(t > 0 ? postVar : postVar1),
    log_beta: Math.log(beta),
    is_t0: t === 0 ? 1 : 0,
  };
}

const LN2 = Math.log(2);

/**
 * L_t of the VLB in bits per dimension for each batch row [B] (Improved DDPM sec. 2, eq. 5; the decoder
 * -log p(x0 | x1) at t = 0): KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)) where `is_t0` is 0. `eps` is the
 * predicted noise, `v` the learned-range variance output in [-1, 1] (eq. 15; -1 gives beta~_t, +1 gives
 * beta_t, so fixed variances are a constant v), `b` holds x_t, x0 and the `VLB_COEFFS` inputs [B].
 * Used by the hybrid loss and by src/eval/metrics/vlb.ts.
 * @example const bits = vlbTermPerSample(eps, minusOnes, { x_t, x0, ...coeffs }, 'discretized'); // [B]
 */
export function vlbTermPerSample(eps: Value, v: Value, b: Record<string, Value>, decoder: DecoderType): Value {
  const x = b.x_t;
  const ps = (n: string) => perSample(b[n], x);
  // model log-variance: interpolate between log beta~ (min) and log beta (max) — eq. 15
  const frac = mul(add(v, 1), 0.5);
  const logvar = add(mul(frac, ps('log_beta')), mul(sub(1, frac), ps('post_logvar')));
  const predX0 = sub(mul(ps('sqrt_recip_abar'), x), mul(ps('sqrt_recipm1_abar'), eps));
  const modelMean = add(mul(ps('post_coef1'), predX0), mul(ps('post_coef2'), x));
  const trueMean = add(mul(ps('post_coef1'), b.x0), mul(ps('post_coef2'), x));
  // KL(q || p) between diagonal Gaussians, in nats
  const trueLogvar = ps('post_logvar');
  const kl = mul(
    0.5,
    add(
      add(sub(logvar, trueLogvar), -1),
      add(exp(sub(trueLogvar, logvar)), mul(square(sub(trueMean, modelMean)), exp(mul(logvar, -1)))),
    ),
  );
  const nll =
    decoder === 'discretized'
      ? discretizedGaussianNll(b.x0, modelMean, logvar)
      : mul(0.5, add(add(logvar, Math.log(2 * Math.PI)), mul(square(sub(b.x0, modelMean)), exp(mul(logvar, -1)))));
  const isT0 = b.is_t0;
  const klBits = div(meanFlat(kl), LN2);
  const nllBits = div(meanFlat(nll), LN2);
  return where(greater(isT0, 0.5), nllBits, klBits);
}

/**
 * -log p(x0) for x0 in [-1, 1] quantised to 256 bins under N(mean, exp(logvar)) (DDPM sec. 3.3,
 * with the tanh approximation of the normal CDF of Improved DDPM's code).
 */
function discretizedGaussianNll(x0: Value, mu: Value, logvar: Value): Value {
  const invStd = exp(mul(logvar, -0.5));
  const centered = sub(x0, mu);
  const cdf = (z: Value) =>
    mul(0.5, add(1, tanh(mul(Math.sqrt(2 / Math.PI), add(z, mul(0.044715, mul(z, mul(z, z))))))));
  const cdfPlus = cdf(mul(invStd, add(centered, 1 / 255)));
  const cdfMin = cdf(mul(invStd, sub(centered, 1 / 255)));
  const logCdfPlus = log(clip(cdfPlus, 1e-12));
  const logOneMinusCdfMin = log(clip(sub(1, cdfMin), 1e-12));
  const logProbs = where(
    greater(-0.999, x0),
    logCdfPlus,
    where(greater(x0, 0.999), logOneMinusCdfMin, log(clip(sub(cdfPlus, cdfMin), 1e-12))),
  );
  return mul(logProbs, -1);
}

/** Broadcast a per-sample [B] value against x [B, ...]. */
function perSample(c: Value, x: Value): Value {
  return reshape(c, [c.shape[0], ...x.shape.slice(1).map(() => 1)]);
}

/** Mean over all but the batch axis. */
function meanFlat(x: Value): Value {
  return mean(x, [...Array(x.rank).keys()].slice(1));
}
