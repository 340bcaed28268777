/**
 * Section 5 (page side): draw part of a digit on a 28x28 canvas (or load a generated one and erase
 * part of it); the digits model completes the rest by inpainting (the worker's digits.inpaint) and
 * the project's MNIST classifier says which digit it sees.
 */
import { $, on } from './dom.ts';
import { clear, drawGray } from './plot.ts';
import type { InpaintRun } from './protocol.ts';
import type { ModelWorker } from './worker_client.ts';
import type { DigitsPanel } from './digits.ts';

const N = 28,
  SCALE = 10;

export interface DrawPanel {
  /** Ink in [0, 1] per pixel (row-major 28x28). */
  ink: Float32Array;
  /** 1 where the model must fill in. */
  unknown: () => Uint8Array;
  lastResult: InpaintRun | null;
}

export function populateDraw(): void {
  const sel = $<HTMLSelectElement>('draw-class');
  for (let d = 0; d < 10; d++) sel.add(new Option(String(d), String(d)));
}

export function setupDraw(worker: ModelWorker, digits: DigitsPanel): DrawPanel {
  const canvas = $<HTMLCanvasElement>('draw-canvas');
  const toolSel = $<HTMLSelectElement>('draw-tool');
  const regionSel = $<HTMLSelectElement>('draw-region');
  const classSel = $<HTMLSelectElement>('draw-class');
  const runBtn = $<HTMLButtonElement>('draw-run');
  const loadBtn = $<HTMLButtonElement>('draw-load');
  const ink = new Float32Array(N * N);
  const erased = new Uint8Array(N * N);
  const unknown = () => {
    const u = new Uint8Array(N * N);
    const region = regionSel.value;
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const i = y * N + x;
        const inRegion =
          region === 'bottom'
            ? y >= N / 2
            : region === 'top'
              ? y < N / 2
              : region === 'right'
                ? x >= N / 2
                : region === 'left'
                  ? x < N / 2
                  : false;
        u[i] = inRegion || erased[i] ? 1 : 0;
      }
    return u;
  };
  const panel: DrawPanel = { ink, unknown, lastResult: null };

  const render = () => {
    const c = clear(canvas, '#000');
    drawGray(
      c,
      Float32Array.from(ink, (v) => 2 * v - 1),
      N,
      N,
      0,
      0,
      SCALE,
    );
    const u = unknown();
    c.fillStyle = 'rgba(96, 165, 250, 0.35)';
    for (let i = 0; i < N * N; i++) if (u[i]) c.fillRect((i % N) * SCALE, Math.floor(i / N) * SCALE, SCALE, SCALE);
    const drawn = ink.reduce((s, v) => s + (v > 0.3 ? 1 : 0), 0);
    canvas.setAttribute(
      'aria-label',
      `drawing area, 28 by 28 pixels: ${drawn} inked pixels, ${u.reduce((s, v) => s + v, 0)} pixels for the model to fill in (${regionSel.selectedOptions[0]?.text})`,
    );
  };

  // ---- pointer drawing (mouse, touch, pen) ----
  let drawing = false,
    last: [number, number] | null = null;
  const paint = (gx: number, gy: number) => {
    const erase = toolSel.value === 'erase';
    const r = erase ? 1.8 : 1.5;
    for (let y = Math.floor(gy - r - 1); y <= gy + r + 1; y++)
      for (let x = Math.floor(gx - r - 1); x <= gx + r + 1; x++) {
        if (x < 0 || y < 0 || x >= N || y >= N) continue;
        const d = Math.hypot(x + 0.5 - gx, y + 0.5 - gy);
        if (erase) {
          if (d <= r) erased[y * N + x] = 1;
          continue;
        }
        const v = Math.min(1, Math.max(0, 1.25 * (1 - d / (r + 0.6))));
        ink[y * N + x] = Math.max(ink[y * N + x], v);
      }
  };
  const at = (ev: PointerEvent): [number, number] => {
    const rect = canvas.getBoundingClientRect();
    return [((ev.clientX - rect.left) / rect.width) * N, ((ev.clientY - rect.top) / rect.height) * N];
  };
  const stroke = (ev: PointerEvent) => {
    const p = at(ev);
    const from = last ?? p;
    const steps = Math.max(1, Math.ceil(Math.hypot(p[0] - from[0], p[1] - from[1]) / 0.4));
    for (let k = 1; k <= steps; k++)
      paint(from[0] + ((p[0] - from[0]) * k) / steps, from[1] + ((p[1] - from[1]) * k) / steps);
    last = p;
    render();
  };
  canvas.addEventListener('pointerdown', (ev) => {
    drawing = true;
    last = null;
    canvas.setPointerCapture(ev.pointerId);
    stroke(ev);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (drawing) stroke(ev);
  });
  const end = () => {
    drawing = false;
    last = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  on(regionSel, 'change', render);

  on($('draw-clear'), 'click', () => {
    ink.fill(0);
    erased.fill(0);
    render();
  });

  on(loadBtn, 'click', async () => {
    loadBtn.disabled = true;
    try {
      let run = digits.lastRun;
      if (!run) {
        const label = classSel.value === 'any' ? 7 : Number(classSel.value);
        run = await worker.call('digits.sample', { labels: [label], w: 1.5, scheduler: 'ddim', steps: 20, seed: 1 });
      }
      for (let i = 0; i < N * N; i++) ink[i] = Math.min(1, Math.max(0, (run.x.data[i] + 1) / 2));
      erased.fill(0);
      regionSel.value = 'erased';
      toolSel.value = 'erase';
      classSel.value = 'any';
      render();
    } finally {
      loadBtn.disabled = false;
    }
  });

  on(runBtn, 'click', async () => {
    const u = unknown();
    if (!u.some((v) => v))
      throw new Error(
        'nothing to fill in: choose a half in "model fills in", or erase part of the drawing with the eraser',
      );
    const image = Float32Array.from(ink, (v) => 2 * v - 1);
    const known = Float32Array.from(u, (v) => 1 - v);
    const label = classSel.value === 'any' ? null : Number(classSel.value);
    const w = Number($<HTMLInputElement>('digits-w').value);
    runBtn.disabled = true;
    const caption = $('draw-caption');
    try {
      caption.textContent = 'loading the digits model…';
      await digits.info();
      const r = await worker.call(
        'digits.inpaint',
        {
          image: { shape: [1, 1, N, N], data: image },
          known: { shape: [1, 1, N, N], data: known },
          label,
          w,
          steps: 25,
          seed: Number($<HTMLInputElement>('digits-seed').value),
        },
        (p) => {
          const { k, n } = p as { k: number; n: number };
          caption.textContent = `completing: step ${k} of ${n}…`;
        },
      );
      panel.lastResult = r;
      const out = $<HTMLCanvasElement>('draw-result');
      drawGray(clear(out), r.x.data, N, N, 0, 0, SCALE);
      out.dataset.drawn = String(Number(out.dataset.drawn ?? 0) + 1);
      caption.textContent = `Completed${label === null ? '' : ` as a ${label} (guidance w = ${w})`} in ${r.nfe} model evaluations, ${r.seconds.toFixed(1)} s. Your pixels are kept exactly.`;
      drawProbs(r.probs);
      const best = r.probs.indexOf(Math.max(...r.probs));
      out.setAttribute(
        'aria-label',
        `the completed digit; the classifier reads it as ${best} (${Math.round(100 * r.probs[best])}%)`,
      );
    } finally {
      runBtn.disabled = false;
    }
  });

  runBtn.disabled = false;
  loadBtn.disabled = false;
  render();
  return panel;
}

/** Bar chart of the classifier's ten probabilities, with its guess in the caption. */
function drawProbs(probs: number[]): void {
  const canvas = $<HTMLCanvasElement>('draw-probs');
  const c = clear(canvas);
  const best = probs.indexOf(Math.max(...probs));
  const padL = 26,
    padB = 34,
    top = 8,
    W = canvas.width - padL - 6,
    H = canvas.height - padB - top,
    bw = W / 10;
  c.font = '12px system-ui, sans-serif';
  c.fillStyle = '#4b5563';
  for (const v of [0, 0.5, 1]) c.fillText(v.toFixed(1), 2, top + (1 - v) * H + 4);
  probs.forEach((p, d) => {
    c.fillStyle = d === best ? '#1f6feb' : '#9ca3af';
    c.fillRect(padL + d * bw + 3, top + (1 - p) * H, bw - 6, p * H);
    c.fillStyle = '#1d2127';
    c.fillText(String(d), padL + d * bw + bw / 2 - 3, top + H + 14);
  });
  c.fillText('digit', padL + W / 2 - 12, canvas.height - 4);
  $('draw-guess').textContent =
    `The classifier reads it as a ${best} (probability ${(100 * probs[best]).toFixed(0)}%). Bars: its probability for each digit.`;
}
