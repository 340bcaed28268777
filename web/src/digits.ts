/**
 * Section 4 (page side): the shipped class-conditional unet-s (a diffusers-layout folder written by
 * `diffuse train`, web/public/models/unet-s-mnist/) sampled per digit with classifier-free guidance;
 * a scrub slider through the first sample's run (x_t and x̂0 at any step) and a same-seed guidance
 * grid. Sampling happens in the model worker (digits.* requests).
 */
import { $, on } from './dom.ts';
import { clear, drawGray, imageGrid, placeholder, type Arr } from './plot.ts';
import type { Hello } from './protocol.ts';
import type { DigitRunWire, DigitsInfo, Wire } from './protocol.ts';
import type { ModelWorker } from './worker_client.ts';

export const GRID_WEIGHTS = [0, 0.5, 1, 1.5, 2, 3];
const nd = (w: Wire): Arr => w;

export interface DigitsPanel {
  /** The checkpoint's facts, loaded on first use. */
  info: () => Promise<DigitsInfo>;
  /** The latest run of the Sample digits button (tests and the draw panel read it). */
  lastRun: DigitRunWire | null;
  /** Runs of the guidance grid so far. */
  gridRuns: number;
}

export function populateDigits(hello: Hello): void {
  const classSel = $<HTMLSelectElement>('digits-class');
  classSel.add(new Option('all (0–9)', 'all'));
  for (let d = 0; d < 10; d++) classSel.add(new Option(String(d), String(d)));
  const schedSel = $<HTMLSelectElement>('digits-scheduler');
  for (const k of hello.schedulerNames) schedSel.add(new Option(k, k));
  schedSel.value = 'ddim';
}

function checkSteps(id: string): number {
  const v = $<HTMLInputElement>(id).value,
    steps = Number(v);
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000))
    throw new Error(`steps = ${v || '(empty)'}: expected a whole number from 1 to 1000`);
  return steps;
}

export function setupDigits(worker: ModelWorker): DigitsPanel {
  const classSel = $<HTMLSelectElement>('digits-class');
  const schedSel = $<HTMLSelectElement>('digits-scheduler');
  const wIn = $<HTMLInputElement>('digits-w');
  const btn = $<HTMLButtonElement>('digits-run');
  const gridBtn = $<HTMLButtonElement>('digits-grid-run');
  const caption = $('digits-caption');
  const scrub = $<HTMLInputElement>('digits-scrub');
  on(wIn, 'input', () => {
    $('digits-w-out').textContent = wIn.value;
  });

  let loading: Promise<DigitsInfo> | null = null;
  const info = () => {
    if (!loading) {
      loading = worker.call('digits.load', {});
      loading.catch(() => {
        loading = null;
      });
    }
    return loading;
  };
  const panel: DigitsPanel = { info, lastRun: null, gridRuns: 0 };

  const drawStep = (k: number) => {
    const run = panel.lastRun;
    if (!run) return;
    const xt = $<HTMLCanvasElement>('digits-xt'),
      x0 = $<HTMLCanvasElement>('digits-x0hat');
    drawGray(clear(xt), run.xt[k].data, 28, 28, 0, 0, 5);
    const p = run.x0[k];
    if (p) drawGray(clear(x0), p.data, 28, 28, 0, 0, 5);
    else placeholder(x0, 'no x̂₀', false);
    $('digits-scrub-out').textContent = `${k + 1} / ${run.xt.length} (t = ${Math.round(run.timesteps[k])})`;
    xt.setAttribute('aria-label', `noisy image x_t after step ${k + 1} of ${run.xt.length}`);
  };
  on(scrub, 'input', () => drawStep(Number(scrub.value)));

  const busy = (b: boolean) => {
    btn.disabled = b;
    gridBtn.disabled = b;
  };

  on(btn, 'click', async () => {
    const steps = checkSteps('digits-steps');
    const perClass = Number($<HTMLSelectElement>('digits-n').value);
    const all = classSel.value === 'all';
    const labels = all
      ? Array.from({ length: 10 * perClass }, (_, i) => i % 10)
      : Array.from({ length: perClass }, () => Number(classSel.value));
    const w = Number(wIn.value);
    busy(true);
    try {
      caption.textContent = 'loading the digits model…';
      const m = await info();
      caption.textContent = `sampling ${labels.length} digits…`;
      const run = await worker.call(
        'digits.sample',
        { labels, w, scheduler: schedSel.value, steps, seed: Number($<HTMLInputElement>('digits-seed').value) },
        (p) => {
          const { k, n } = p as { k: number; n: number };
          caption.textContent = `sampling ${labels.length} digits: step ${k} of ${n}…`;
        },
      );
      panel.lastRun = run;
      const canvas = $<HTMLCanvasElement>('digits-canvas');
      imageGrid(canvas, nd(run.x), all ? 10 : Math.min(labels.length, 8), 3);
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? 0) + 1);
      // At w = 0 the class is ignored: no digit is named.
      const what =
        w === 0
          ? 'unconditional (w = 0: the digit is ignored)'
          : all
            ? 'columns: digits 0–9'
            : `digit ${classSel.value}`;
      caption.textContent = `${labels.length} samples, ${what}, w = ${w}, ${schedSel.value} ${steps} steps: ${run.nfe} model evaluations in ${run.seconds.toFixed(1)} s · checkpoint step ${m.step}`;
      canvas.setAttribute('aria-label', `${labels.length} generated digit images, ${what}`);
      scrub.max = String(run.xt.length - 1);
      scrub.value = String(Math.floor((run.xt.length - 1) / 2));
      scrub.disabled = false;
      drawStep(Number(scrub.value));
      drawStrip(run);
    } finally {
      busy(false);
    }
  });

  on(gridBtn, 'click', async () => {
    const steps = checkSteps('digits-steps');
    const digit = classSel.value === 'all' ? 3 : Number(classSel.value);
    const seed = Number($<HTMLInputElement>('digits-seed').value);
    const canvas = $<HTMLCanvasElement>('digits-grid');
    const rows = 2,
      s = 2,
      cell = 28 * s + 8,
      top = 18;
    canvas.width = GRID_WEIGHTS.length * cell;
    canvas.height = top + rows * cell;
    const c = clear(canvas);
    c.fillStyle = '#1d2127';
    c.font = '12px system-ui, sans-serif';
    GRID_WEIGHTS.forEach((w, j) => c.fillText(`w = ${w}`, j * cell + 4, 13));
    busy(true);
    try {
      await info();
      for (const [j, w] of GRID_WEIGHTS.entries()) {
        $('digits-grid-caption').textContent = `Guidance grid for digit ${digit}: sampling w = ${w}…`;
        const run = await worker.call('digits.sample', {
          labels: Array(rows).fill(digit),
          w,
          scheduler: schedSel.value,
          steps,
          seed,
        });
        for (let r = 0; r < rows; r++)
          drawGray(c, run.x.data.subarray(r * 784, (r + 1) * 784), 28, 28, j * cell + 2, top + r * cell, s);
      }
      panel.gridRuns++;
      canvas.dataset.drawn = String(panel.gridRuns);
      $('digits-grid-caption').textContent =
        `Guidance grid: digit ${digit} (not used at w = 0), the same starting noise (seed ${seed}) in every column; w = ${GRID_WEIGHTS.join(', ')}.`;
      canvas.setAttribute(
        'aria-label',
        `two samples of digit ${digit} from the same noise at guidance weights ${GRID_WEIGHTS.join(', ')}`,
      );
    } finally {
      busy(false);
    }
  });

  placeholder($<HTMLCanvasElement>('digits-canvas'), 'press Sample digits', false);
  placeholder($<HTMLCanvasElement>('digits-xt'), 'xₜ', false);
  placeholder($<HTMLCanvasElement>('digits-x0hat'), 'x̂₀', false);
  placeholder($<HTMLCanvasElement>('digits-grid'), 'press Guidance grid', false);
  const strip = $<HTMLCanvasElement>('digits-x0');
  strip.width = stripWidth(strip);
  placeholder(strip, 'the run of the first sample appears here', false);
  return panel;
}

/** x_t (top) and x̂0 (bottom) of sample 0 at evenly spaced steps; as many columns as fit the page width. */
function drawStrip(run: DigitRunWire): void {
  const canvas = $<HTMLCanvasElement>('digits-x0');
  const avail = stripWidth(canvas);
  const s = 2,
    cellW = 28 * s + 10;
  const K = Math.max(2, Math.min(10, run.xt.length, Math.floor(avail / cellW)));
  const picks = Array.from({ length: K }, (_, k) => Math.round((k * (run.xt.length - 1)) / Math.max(1, K - 1)));
  canvas.width = K * cellW;
  canvas.height = 2 * 28 * s + 34;
  const c = clear(canvas);
  c.fillStyle = '#1d2127';
  c.font = '12px system-ui, sans-serif';
  picks.forEach((i, k) => {
    drawGray(c, run.xt[i].data, 28, 28, k * cellW, 16, s);
    const x0 = run.x0[i];
    if (x0) drawGray(c, x0.data, 28, 28, k * cellW, 22 + 28 * s, s);
    else c.fillText('no x̂₀', k * cellW + 8, 22 + 28 * s + 30);
    c.fillText(`t=${Math.round(run.timesteps[i])}`, k * cellW, 12);
  });
}

/** Width for the strip canvas: its container's width (so its labels are not scaled down), at most 1060 px. */
function stripWidth(canvas: HTMLCanvasElement): number {
  return Math.max(200, Math.min(1060, canvas.parentElement?.clientWidth || 700));
}
