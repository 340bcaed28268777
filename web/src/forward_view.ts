/**
 * Section 1 (page side): the forward process q(x_t | x_0) (DDPM eq. 4) on a 2-D data set or an MNIST
 * digit, with the schedule's alpha-bar and SNR curves. x_t comes from the model worker (the toolkit's
 * addNoise; the noise is drawn once per data set, so moving t is continuous); this file only draws.
 */
import { clear, drawGray, frame2d, lineChart, scatter } from './plot.ts';
import { $, on } from './dom.ts';
import type { Hello } from './protocol.ts';
import type { ModelWorker } from './worker_client.ts';

export function populateForward(hello: Hello): void {
  const dataSel = $<HTMLSelectElement>('fwd-data');
  for (const n of hello.toy2dNames) dataSel.add(new Option(n, n));
  for (let d = 0; d < 10; d++) dataSel.add(new Option(`digit ${d}`, `digit:${d}`));
  const schedSel = $<HTMLSelectElement>('fwd-schedule');
  for (const s of hello.schedules) schedSel.add(new Option(s, s));
  $<HTMLInputElement>('fwd-t').max = String(hello.T - 1);
}

export function setupForward(worker: ModelWorker, hello: Hello): { schedule: () => string; draw: () => Promise<void> } {
  const dataSel = $<HTMLSelectElement>('fwd-data');
  const schedSel = $<HTMLSelectElement>('fwd-schedule');
  const slider = $<HTMLInputElement>('fwd-t');
  const canvas = $<HTMLCanvasElement>('fwd-canvas');
  let abar: Float32Array = new Float32Array(hello.T);
  let pending = false,
    again = false;

  const drawCurves = (t: number) => {
    // log SNR mapped into [0, 1] next to alpha-bar: (logSNR + 12) / 24 covers the usual range.
    const logSnr = Float32Array.from(abar, (v) => (Math.log(v / (1 - v)) + 12) / 24);
    lineChart(
      $<HTMLCanvasElement>('fwd-curves'),
      [
        { values: abar, color: '#1f6feb' },
        { values: logSnr, color: '#c2410c' },
      ],
      {
        yMin: 0,
        yMax: 1,
        xMax: hello.T - 1,
        markX: t,
        yLabel: (v) => v.toFixed(2),
        rightLabel: (v) => (v * 24 - 12).toFixed(0),
        xTitle: 'time t',
        yTitle: 'ᾱ (data left)',
        rightTitle: 'log SNR',
        legend: [
          { label: 'ᾱₜ', color: '#1f6feb' },
          { label: 'log SNR(t)', color: '#c2410c' },
        ],
      },
    );
  };
  // One request in flight at a time; a slider moved meanwhile is drawn once the answer is in.
  const draw = async (): Promise<void> => {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const t = Number(slider.value);
      $('fwd-t-out').textContent = String(t);
      const v = await worker.call('forward.view', { data: dataSel.value, schedule: schedSel.value, t });
      if (v.image) drawGray(clear(canvas), v.xt.data, 28, 28, 20, 20, 10);
      else {
        frame2d(canvas);
        scatter(canvas, v.xt, '#1f6feb', 2);
      }
      const a = v.abar,
        snr = a / (1 - a);
      $('fwd-caption').textContent =
        `t = ${t}: ᾱ = ${a.toFixed(4)} (data kept ×${Math.sqrt(a).toFixed(3)}, noise ×${Math.sqrt(1 - a).toFixed(3)}), SNR = ${snr.toExponential(2)}`;
      canvas.setAttribute(
        'aria-label',
        `${dataSel.selectedOptions[0]?.text ?? 'data'} at t = ${t}: ${Math.round(100 * Math.sqrt(a))}% data, ${Math.round(100 * Math.sqrt(1 - a))}% noise`,
      );
      drawCurves(t);
    } finally {
      pending = false;
    }
    if (again) {
      again = false;
      await draw();
    }
  };
  const newCurve = async () => {
    abar = (await worker.call('forward.curve', { schedule: schedSel.value })).abar;
    await draw();
  };
  on(dataSel, 'change', draw);
  on(schedSel, 'change', newCurve);
  on(slider, 'input', draw);
  return { schedule: () => schedSel.value, draw: newCurve };
}
