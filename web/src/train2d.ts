/**
 * Sections 2 and 3 (page side): controls and pictures for training mlp-2d live, its samples redrawn
 * while it trains, a sampled run to scrub through, and the score field. The model work happens in
 * the model worker (train.* requests); this file only draws.
 */
import type { Hello } from './protocol.ts';
import { $, clearError, nextFrame, on, report } from './dom.ts';
import {
  arrow,
  colorBar,
  ctx2d,
  frame2d,
  lineChart,
  magnitudeColor,
  placeholder,
  scatter,
  trails,
  type Arr,
} from './plot.ts';
import type { ScoreField, SampleRun, TrainTick, Wire } from './protocol.ts';
import type { ModelWorker } from './worker_client.ts';

const nd = (w: Wire): Arr => w;

/** What the page knows about the model being trained (for the other panels and the e2e test). */
export interface TwoDState {
  ready: boolean;
  running: boolean;
  step: number;
  totalSteps: number;
  losses: number[];
  dataName: string;
  liveDraws: number;
  scoreDraws: number;
}

/** Smoothed copy (exponential moving average, bias-corrected) of a loss curve. */
function smooth(v: number[], beta = 0.97): Float32Array {
  const out = new Float32Array(v.length);
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    m = beta * m + (1 - beta) * v[i];
    out[i] = m / (1 - beta ** (i + 1));
  }
  return out;
}

/** Fill the selects of sections 2 and 3 (before the URL state is restored). */
export function populateTrain2d(hello: Hello): void {
  const dataSel = $<HTMLSelectElement>('train-data');
  for (const n of hello.toy2dNames) dataSel.add(new Option(n, n));
  const schedSel = $<HTMLSelectElement>('sample-scheduler');
  for (const k of hello.schedulerNames) schedSel.add(new Option(k, k));
  schedSel.value = hello.recipe.sampler.scheduler;
  $<HTMLInputElement>('sample-steps').value = String(hello.recipe.sampler.steps);
  selectValue($<HTMLSelectElement>('train-batch'), String(hello.recipe.batchSize));
  selectValue($<HTMLSelectElement>('train-lr'), String(hello.recipe.lr));
}

/** Select `value`, adding it as an option when the list lacks it (the recipe decides the default, not the page). */
function selectValue(sel: HTMLSelectElement, value: string): void {
  if (![...sel.options].some((o) => o.value === value)) sel.add(new Option(value, value));
  sel.value = value;
}

export function setupTrain2d(
  worker: ModelWorker,
  hello: Hello,
  schedule: () => string,
): { state: TwoDState; create: () => Promise<void> } {
  const state: TwoDState = {
    ready: false,
    running: false,
    step: 0,
    totalSteps: hello.recipe.steps,
    losses: [],
    dataName: '',
    liveDraws: 0,
    scoreDraws: 0,
  };
  const dataSel = $<HTMLSelectElement>('train-data');
  const toggle = $<HTMLButtonElement>('train-toggle');
  const stepBtn = $<HTMLButtonElement>('train-step');
  const reset = $<HTMLButtonElement>('train-reset');
  const status = $('train-status');
  const counter = $('train-step-out');
  const schedSel = $<HTMLSelectElement>('sample-scheduler');
  const sampleBtn = $<HTMLButtonElement>('sample-run');
  const scoreT = $<HTMLInputElement>('score-t');
  const buttons = [toggle, stepBtn, reset, sampleBtn];

  placeholder($<HTMLCanvasElement>('loss-chart'), 'the loss appears here while training', false);
  placeholder($<HTMLCanvasElement>('live-canvas'), 'press Train');
  placeholder($<HTMLCanvasElement>('sample-canvas'), 'train a little, then press Sample');
  placeholder($<HTMLCanvasElement>('score-canvas'), 'appears once training runs');
  colorBar($<HTMLCanvasElement>('score-legend'), 'weak', 'strong');

  let lastLossDraw = 0;
  const drawLoss = () => {
    const l = state.losses;
    const s = smooth(l);
    lineChart(
      $<HTMLCanvasElement>('loss-chart'),
      [
        { values: l, color: '#c9d7ea' },
        { values: s, color: '#1f6feb' },
      ],
      {
        yMin: 0,
        yMax: Math.max(1.2, ...s.slice(0, 20)),
        xMax: Math.max(100, l.length - 1),
        xTitle: 'training step',
        yTitle: 'loss (noise-guess error)',
        legend: [
          { label: 'each step', color: '#c9d7ea' },
          { label: 'smoothed', color: '#1f6feb' },
        ],
      },
    );
    const last = l.length ? s[l.length - 1] : NaN;
    status.textContent = `loss ${Number.isFinite(last) ? last.toFixed(3) : '–'} (smoothed) · ${state.dataName}, batch ${$<HTMLSelectElement>('train-batch').value}`;
    status.dataset.steps = String(state.step);
    $('loss-chart').setAttribute(
      'aria-label',
      `training loss over ${state.step} steps, now ${Number.isFinite(last) ? last.toFixed(3) : 'not measured'}`,
    );
  };
  const showCounter = (rate = 0) => {
    counter.textContent = `step ${state.step} / ${state.totalSteps}${state.running && rate ? ` · ${rate.toFixed(0)} steps/s` : ''}`;
  };
  const setRunning = (r: boolean) => {
    state.running = r;
    toggle.textContent = r ? '⏸ Pause' : '▶ Train';
    toggle.setAttribute('aria-pressed', String(r));
    stepBtn.disabled = r || !state.ready;
  };

  worker.on('tick', (t: TrainTick) => {
    state.losses.push(...t.losses);
    state.step = t.step;
    showCounter(t.rate);
    const now = performance.now();
    if (now - lastLossDraw > 200) {
      drawLoss();
      lastLossDraw = now;
    }
    if (now - lastScore > 3000 && !scoreBusy) void drawScore().catch((e) => report(e, 'score field', scoreT));
  });
  worker.on('live', (run: SampleRun) => {
    const canvas = $<HTMLCanvasElement>('live-canvas');
    frame2d(canvas);
    scatter(canvas, nd(run.data), '#b8bec7', 2);
    scatter(canvas, nd(run.frames[run.frames.length - 1]), '#1f6feb', 2);
    $('live-caption').textContent =
      `at training step ${run.modelStep} (${hello.recipe.sampler.scheduler}, ${run.nfe} model calls)`;
    canvas.setAttribute(
      'aria-label',
      `600 samples of the model at training step ${run.modelStep}, over the data in grey`,
    );
    state.liveDraws++;
    canvas.dataset.drawn = String(state.liveDraws);
  });

  const create = async () => {
    state.ready = false;
    for (const b of buttons) b.disabled = true;
    setRunning(false);
    status.textContent = 'preparing the training step (tracing and compiling the network)…';
    const r = await worker.call('train.create', {
      data: dataSel.value,
      schedule: schedule(),
      batch: Number($<HTMLSelectElement>('train-batch').value),
      lr: Number($<HTMLSelectElement>('train-lr').value),
    });
    Object.assign(state, { ready: true, step: 0, losses: [], totalSteps: r.totalSteps, dataName: dataSel.value });
    for (const b of buttons) b.disabled = false;
    drawLoss();
    showCounter();
    status.textContent = `ready (train step compiled in ${r.seconds.toFixed(1)} s): press Train`;
  };

  const play = async () => {
    if (state.running) {
      setRunning(false);
      const t = await worker.call('train.pause', {});
      state.losses.push(...t.losses);
      return;
    }
    setRunning(true);
    const t = await worker.call('train.play', {});
    setRunning(false);
    state.losses.push(...t.losses);
    state.step = t.step;
    drawLoss();
    showCounter();
    if (t.finished) status.textContent += ` · the recipe's ${t.totalSteps} steps are done (press Reset to start again)`;
  };
  on(toggle, 'click', play);
  on(stepBtn, 'click', async () => {
    const t = await worker.call('train.play', { maxSteps: 1 });
    state.losses.push(...t.losses);
    state.step = t.step;
    drawLoss();
    showCounter();
  });
  const restart = async () => {
    await worker.call('train.pause', {}).catch(() => undefined);
    await create();
  };
  on(reset, 'click', restart);
  // A new data set, batch size or learning rate means a new model.
  for (const id of ['train-data', 'train-batch', 'train-lr']) on($(id), 'change', restart);

  // ---- score field: arrows of one length (direction), colour for strength ----
  let lastScore = 0,
    scoreBusy = false;
  const drawScore = async () => {
    if (!state.ready || state.step === 0 || scoreBusy) return;
    scoreBusy = true;
    lastScore = performance.now();
    try {
      const f: ScoreField = await worker.call('train.score', { t: Number(scoreT.value) });
      const canvas = $<HTMLCanvasElement>('score-canvas');
      frame2d(canvas);
      scatter(canvas, nd(f.xt), '#c7ccd3', 2);
      const G = Math.round(Math.sqrt(f.grid.shape[0]));
      const norms = Array.from({ length: G * G }, (_, k) => Math.hypot(f.score.data[2 * k], f.score.data[2 * k + 1]));
      const maxNorm = Math.max(...norms.filter(Number.isFinite), 1e-9);
      const c = ctx2d(canvas);
      c.lineWidth = 1.6;
      const len = 0.75 * (8 / (G - 1));
      for (let k = 0; k < G * G; k++) {
        const n = norms[k];
        if (!(n > 0)) continue;
        c.strokeStyle = magnitudeColor(Math.sqrt(n / maxNorm)); // sqrt: weak and strong stay distinguishable
        arrow(
          c,
          canvas,
          f.grid.data[2 * k],
          f.grid.data[2 * k + 1],
          (f.score.data[2 * k] / n) * len,
          (f.score.data[2 * k + 1] / n) * len,
        );
      }
      colorBar($<HTMLCanvasElement>('score-legend'), '0', `|score| ${maxNorm.toFixed(1)}`);
      $('score-caption').textContent = `model at training step ${f.modelStep}, t = ${f.t}`;
      canvas.setAttribute(
        'aria-label',
        `score field at t = ${f.t}: arrows point towards the data; strongest |score| ${maxNorm.toFixed(1)}`,
      );
      state.scoreDraws++;
      clearError(scoreT);
    } finally {
      scoreBusy = false;
    }
  };
  on(scoreT, 'input', () => {
    $('score-t-out').textContent = scoreT.value;
  });
  on(scoreT, 'change', drawScore);

  // ---- sampling, with a scrub slider through the run ----
  const scrub = $<HTMLInputElement>('sample-scrub');
  let run: { frames: Arr[]; data: Arr; label: string } | null = null;
  const drawFrame = (k: number) => {
    if (!run) return;
    const canvas = $<HTMLCanvasElement>('sample-canvas');
    frame2d(canvas);
    scatter(canvas, run.data, '#b8bec7', 2);
    trails(canvas, run.frames.slice(0, k + 1), 40, 'rgba(232, 89, 12, 0.6)');
    scatter(canvas, run.frames[k], '#1f6feb', 2);
    const n = run.frames.length - 1;
    $('sample-scrub-out').textContent = `${k} / ${n}`;
    $('sample-caption').textContent = run.label;
    canvas.setAttribute(
      'aria-label',
      `samples after step ${k} of ${n} of the reverse process${k === 0 ? ' (pure noise)' : ''}`,
    );
  };
  on(scrub, 'input', () => drawFrame(Number(scrub.value)));
  on(sampleBtn, 'click', async () => {
    const steps = Number($<HTMLInputElement>('sample-steps').value);
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000))
      throw new Error(`steps = ${$<HTMLInputElement>('sample-steps').value}: expected a whole number from 1 to 1000`);
    if (state.step === 0) throw new Error('train the model first (section 2: press Train)');
    sampleBtn.disabled = true;
    try {
      const r = await worker.call('train.sample', {
        scheduler: schedSel.value,
        steps,
        n: Number($<HTMLSelectElement>('sample-n').value),
        seed: Number($<HTMLInputElement>('sample-seed').value),
      });
      run = {
        frames: r.frames.map(nd),
        data: nd(r.data),
        label: `${schedSel.value}: ${r.nfe} model evaluations in ${r.seconds.toFixed(2)} s · model at training step ${r.modelStep}`,
      };
      const n = run.frames.length - 1;
      scrub.max = String(n);
      scrub.disabled = false;
      // Play the run once, then leave the slider at the end.
      const delay = Math.max(16, Math.min(100, 2000 / n));
      for (let k = 0; k <= n; k++) {
        scrub.value = String(k);
        drawFrame(k);
        await new Promise((res) => setTimeout(res, delay));
      }
      await nextFrame();
      const canvas = $<HTMLCanvasElement>('sample-canvas');
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? 0) + 1);
    } finally {
      sampleBtn.disabled = false;
    }
  });

  return { state, create };
}
