/**
 * The coefficients of the linear multistep method in sigma (Karras et al. 2022, Sec. 2 / k-diffusion's
 * `sample_lms`): the integral of each Lagrange basis polynomial over one step, by 21-point Gauss-Kronrod.
 * Shared by LMSDiscreteScheduler (lms.ts, float32 like diffusers) and the functional sampleLms (k_sampling.ts,
 * float64 like k-diffusion).
 *
 * @example
 *   lmsCoefficient(2, [10, 5, 1, 0], 1, 0);                  // float64 (k-diffusion)
 *   lmsCoefficient(2, [10, 5, 1, 0], 1, 0, Math.fround);     // float32 integrand (diffusers)
 */

// QUADPACK dqk21: Gauss-Kronrod nodes (xgk, in [0, 1], symmetric) and weights (wgk); odd indices are the
// 10-point Gauss nodes. Exact for polynomials of degree <= 31.
const XGK = [
  0.995657163025808080735527280689003, 0.973906528517171720077964012084452, 0.930157491355708226001207180059508,
  0.865063366688984510732096688423493, 0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
  0.562757134668604683339000099272694, 0.433395394129247190799265943165784, 0.294392862701460198131126603103866,
  0.14887433898163121088482600112972, 0.0,
];
const WGK = [
  0.011694638867371874278064396062192, 0.03255816230796472747881897245939, 0.05475589657435199603138130024458,
  0.07503967481091995276704314091619, 0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
  0.123491976262065851077208936972256, 0.134709217311473325928054001771707, 0.142775938577060080797094273138717,
  0.147739104901338491374841515972068, 0.149445554002916905664936468389821,
];

/**
 * integral_a^b f(x) dx by the 21-point Gauss-Kronrod rule (QUADPACK dqk21's Kronrod sum, in its order).
 * @example gaussKronrod21((x) => x * x, 0, 1)  // 1/3
 */
export function gaussKronrod21(f: (x: number) => number, a: number, b: number): number {
  const centr = 0.5 * (a + b);
  const hlgth = 0.5 * (b - a);
  let resk = WGK[10] * f(centr);
  for (let j = 0; j < 5; j++) {
    const jtw = 2 * j + 1;
    const absc = hlgth * XGK[jtw];
    resk += WGK[jtw] * (f(centr - absc) + f(centr + absc));
  }
  for (let j = 0; j < 5; j++) {
    const jtwm1 = 2 * j;
    const absc = hlgth * XGK[jtwm1];
    resk += WGK[jtwm1] * (f(centr - absc) + f(centr + absc));
  }
  return resk * hlgth;
}

/**
 * LMS coefficient: the integral over [sigmas[i], sigmas[i+1]] of the Lagrange basis polynomial of node
 * sigmas[i-j] among sigmas[i], ..., sigmas[i-order+1] (k-diffusion's linear_multistep_coeff, diffusers'
 * get_lms_coefficient), by the 21-point Gauss-Kronrod rule (exact: the degree is order - 1 < 31).
 * `round` is applied after every operation of the integrand: Math.fround evaluates it in float32 as
 * diffusers does (its sigmas are float32 tensors); the default keeps float64 (k-diffusion).
 * @example lmsCoefficient(2, [10, 5, 1, 0], 1, 0)
 */
export function lmsCoefficient(
  order: number,
  sigmas: ArrayLike<number>,
  i: number,
  j: number,
  round: (v: number) => number = (v) => v,
): number {
  const basis = (tau: number): number => {
    let prod = 1.0;
    const t = round(tau);
    for (let k = 0; k < order; k++) {
      if (j === k) continue;
      prod = round(prod * round(round(t - sigmas[i - k]) / round(sigmas[i - j] - sigmas[i - k])));
    }
    return prod;
  };
  return gaussKronrod21(basis, sigmas[i], sigmas[i + 1]);
}
