/**
 * Section 1: the forward process q(x_t | x_0) (DDPM eq. 4) on a 2-D data set or an MNIST digit,
 * with the schedule's alpha-bar and SNR curves. The noise is drawn once, so moving t is continuous.
 */
import { BETA_SCHEDULES, NDArray, Philox, TOY2D_NAMES, addNoise, alphasFromBetas, betasFor, toy2d } from './lib.ts';
import { clear, drawGray, frame2d, lineChart, scatter } from './plot.ts';
import { $, on } from './dom.ts';

export const T = 1000;
/** Schedules the forward view offers (the ones every scheduler class accepts). */
export const SCHEDULES = BETA_SCHEDULES.filter((s) => ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'].includes(s));

/** alpha-bar of a named beta schedule with diffusers' DDPM defaults (beta 1e-4 .. 0.02, T = 1000). */
export function alphasCumprodOf(schedule: string): Float32Array {
  return alphasFromBetas(betasFor({ num_train_timesteps: T, beta_schedule: schedule }, 'forward view')).alphasCumprod;
}

/** MNIST digits shipped with the page: [n, 1, 28, 28] in [-1, 1], digit = index % 10. */
export async function loadDigits(): Promise<NDArray> {
  const res = await fetch(new URL('data/mnist-digits.bin', document.baseURI));
  if (!res.ok) throw new Error(`data/mnist-digits.bin: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const n = bytes.length / 784;
  if (!Number.isInteger(n)) throw new Error(`data/mnist-digits.bin: ${bytes.length} bytes is not a whole number of 28x28 images`);
  return new NDArray([n, 1, 28, 28], Float32Array.from(bytes, (v) => (v / 255) * 2 - 1));
}

export function setupForward(digits: NDArray): { schedule: () => string; draw: () => void } {
  const dataSel = $<HTMLSelectElement>('fwd-data');
  const schedSel = $<HTMLSelectElement>('fwd-schedule');
  const slider = $<HTMLInputElement>('fwd-t');
  for (const n of TOY2D_NAMES) dataSel.add(new Option(n, n));
  for (let d = 0; d < 10; d++) dataSel.add(new Option(`digit ${d}`, `digit:${d}`));
  for (const s of SCHEDULES) schedSel.add(new Option(s, s));
  slider.max = String(T - 1);

  let x0 = new NDArray([1, 2]);
  let noise = x0;
  let abar = alphasCumprodOf('linear');
  const loadData = () => {
    const v = dataSel.value;
    if (v.startsWith('digit:')) {
      const d = Number(v.slice(6));
      x0 = new NDArray([1, 1, 28, 28], digits.data.slice(d * 784, (d + 1) * 784));
    } else {
      x0 = toy2d(v).sample(2000, new Philox(7));
    }
    noise = new Philox(11).normal(x0.shape);
  };
  const draw = () => {
    const t = Number(slider.value);
    $('fwd-t-out').textContent = String(t);
    const xt = addNoise(x0, noise, abar, t);
    const canvas = $<HTMLCanvasElement>('fwd-canvas');
    if (x0.ndim === 4) {
      const c = clear(canvas);
      drawGray(c, xt.data, 28, 28, 20, 20, 10);
    } else {
      frame2d(canvas);
      scatter(canvas, xt, '#1f6feb', 2);
    }
    const a = abar[t], snr = a / (1 - a);
    $('fwd-caption').textContent = `t = ${t}: ᾱ = ${a.toFixed(4)} (data kept ×${Math.sqrt(a).toFixed(3)}, noise ×${Math.sqrt(1 - a).toFixed(3)}), SNR = ${snr.toExponential(2)}`;
    canvas.setAttribute('aria-label', `${dataSel.selectedOptions[0]?.text ?? 'data'} at t = ${t}: ${Math.round(100 * Math.sqrt(a))}% data, ${Math.round(100 * Math.sqrt(1 - a))}% noise`);
    // log SNR mapped into [0, 1] next to alpha-bar: (logSNR + 12) / 24 covers the usual range.
    const logSnr = Float32Array.from(abar, (v) => (Math.log(v / (1 - v)) + 12) / 24);
    lineChart($<HTMLCanvasElement>('fwd-curves'), [{ values: abar, color: '#1f6feb' }, { values: logSnr, color: '#c2410c' }], {
      yMin: 0, yMax: 1, xMax: T - 1, markX: t, yLabel: (v) => v.toFixed(2), rightLabel: (v) => (v * 24 - 12).toFixed(0),
      xTitle: 'time t', yTitle: 'ᾱ (data left)', rightTitle: 'log SNR',
      legend: [{ label: 'ᾱₜ', color: '#1f6feb' }, { label: 'log SNR(t)', color: '#c2410c' }],
    });
  };
  on(dataSel, 'change', () => { loadData(); draw(); });
  on(schedSel, 'change', () => { abar = alphasCumprodOf(schedSel.value); draw(); });
  on(slider, 'input', draw);
  return {
    schedule: () => schedSel.value,
    draw: () => { abar = alphasCumprodOf(schedSel.value); loadData(); draw(); },
  };
}
