/**
 * Reference erf for tests: the Maclaurin series erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
 * (Abramowitz & Stegun 7.1.5), summed in float64 until the terms vanish; accurate to ~1e-15 for |x| <= 4.
 */
export function erfRef(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x); // |1 - erf(4)| < 2e-8
  let term = x,
    s = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    s += t;
    if (Math.abs(t) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}
