/**
 * Sections 2 and 3: train mlp-2d in the page with the toolkit's compiled TrainStep (forward, eps-MSE
 * loss, backward and AdamW in one ONNX graph), then sample it with any scheduler, animate the reverse
 * trajectories and draw the learned score field at time t.
 */
import {
  DDPMScheduler, DiffusionObjective, Ema, NDArray, Philox, TrainStep, createModel, denoiserWithWeightInputs, diffusionLoss,
  epsToScore, generate, samplingScheduler, toy2d, warmupCosine, withParams, SCHEDULER_ALIASES,
  type AsyncModelFn, type DiffusionModel, type Scheduler,
} from './lib.ts';
import { $, nextFrame, on, report, sleep } from './dom.ts';
import { arrow, ctx2d, frame2d, lineChart, placeholder, scatter, trails } from './plot.ts';
import { T, alphasCumprodOf } from './forward_view.ts';

/** An mlp-2d being trained on a toy data set (state lives here; the math in src/). */
export class Toy2dTrainer {
  step = 0;
  readonly losses: number[] = [];
  private readonly dataRng = new Philox(1);
  private readonly noiseRng = new Philox(2);
  private readonly lrAt: (step: number) => number;
  readonly sampleWith: (weights: Record<string, NDArray>) => AsyncModelFn;

  private constructor(
    readonly dataName: string, readonly schedule: string, readonly batch: number,
    readonly model: DiffusionModel, readonly objective: DiffusionObjective, readonly trainStep: TrainStep, readonly ema: Ema,
    readonly schedulerConfig: Record<string, unknown>, lr: number,
  ) {
    this.lrAt = warmupCosine({ lr, warmupSteps: 100, totalSteps: 1, kind: 'constant' });
    this.sampleWith = denoiserWithWeightInputs(model);
  }

  /** Trace, differentiate and compile the train step of mlp-2d on `dataName` under a beta schedule. */
  static async create(dataName: string, schedule: string, batch: number, lr: number, seed = 0): Promise<Toy2dTrainer> {
    toy2d(dataName); // validates the name
    const model = createModel('mlp-2d');
    const noise = new DDPMScheduler({ num_train_timesteps: T, beta_schedule: schedule });
    const objective = new DiffusionObjective(noise.alphasCumprod, { predictionType: 'epsilon' });
    const params = model.initParams(new Philox(seed));
    const ts = await TrainStep.create(
      (p, b) => withParams(model, p, () => diffusionLoss(model.forward(b.x_t, b.t), b, objective)),
      params, objective.batchSpecs([batch, 2]), { maxGradNorm: 1 },
    );
    const ema = new Ema(params, { maxDecay: 0.995 });
    return new Toy2dTrainer(dataName, schedule, batch, model, objective, ts, ema, noise.toConfig() as Record<string, unknown>, lr);
  }

  /** One optimizer step on a fresh batch of data (the toy sets are infinite). */
  async stepOnce(): Promise<number> {
    const x0 = toy2d(this.dataName).sample(this.batch, this.dataRng);
    const { loss } = await this.trainStep.step(this.objective.makeBatch(x0, this.noiseRng), this.lrAt(this.step));
    this.ema.update(this.trainStep.params);
    this.step += 1;
    this.losses.push(loss);
    return loss;
  }

  /** A sampling scheduler on this model's training schedule; no x0 clipping (2-D data is not in [-1, 1]), as `diffuse sample` does. */
  scheduler(name: string): Scheduler {
    return samplingScheduler(name, this.schedulerConfig, { clip_sample: false });
  }

  /** The denoiser with a snapshot of the EMA weights (training may go on meanwhile). */
  denoiser(): AsyncModelFn {
    return this.sampleWith(Object.fromEntries(Object.entries(this.ema.params).map(([k, v]) => [k, v.clone()])));
  }
}

/** Samples in the variance-preserving frame: sigma-space schedulers (Euler, Heun, ...) hold x0 + sigma eps. */
export function toVpFrame(x: NDArray, scheduler: Scheduler, index: number): NDArray {
  const sigmas = (scheduler as unknown as { sigmas?: ArrayLike<number> }).sigmas;
  if (!(scheduler.initNoiseSigma > 1.5) || !sigmas) return x;
  const s = Number(sigmas[Math.min(index, sigmas.length - 1)]);
  return x.mulScalar(1 / Math.sqrt(1 + s * s));
}

/** Draw n samples, keeping every step (VP frame) for the animation. */
export async function sampleTrajectory(model: AsyncModelFn, scheduler: Scheduler, shape: number[], steps: number, seed: number): Promise<{ frames: NDArray[]; x: NDArray; nfe: number }> {
  const initialNoise = new Philox(seed).normal(shape);
  const frames: NDArray[] = [initialNoise];
  let nfe = 0;
  const counted: AsyncModelFn = (x, t, c) => { nfe++; return model(x, t, c); };
  const x = await generate(counted, scheduler, {
    shape, steps, generator: new Philox(seed + 1_000_003), initialNoise,
    onStep: ({ index, sample }) => frames.push(toVpFrame(sample, scheduler, index + 1)),
  });
  return { frames, x, nfe };
}

/** Smoothed copy (exponential moving average) of a loss curve. */
function smooth(v: number[], beta = 0.97): Float32Array {
  const out = new Float32Array(v.length);
  let m = v[0] ?? 0;
  for (let i = 0; i < v.length; i++) { m = beta * m + (1 - beta) * v[i]; out[i] = m; }
  return out;
}

export interface TwoDState { trainer: Toy2dTrainer | null; running: boolean; sampling: boolean }

export function setupTrain2d(schedule: () => string, onReady: () => void): TwoDState {
  const state: TwoDState = { trainer: null, running: false, sampling: false };
  const dataSel = $<HTMLSelectElement>('train-data');
  for (const o of Array.from($<HTMLSelectElement>('fwd-data').options)) if (!o.value.startsWith('digit')) dataSel.add(new Option(o.text, o.value));
  const toggle = $<HTMLButtonElement>('train-toggle');
  const reset = $<HTMLButtonElement>('train-reset');
  const status = $('train-status');
  const schedSel = $<HTMLSelectElement>('sample-scheduler');
  for (const k of Object.keys(SCHEDULER_ALIASES)) schedSel.add(new Option(k, k));
  schedSel.value = 'dpmsolver++';
  const sampleBtn = $<HTMLButtonElement>('sample-run');
  const scoreT = $<HTMLInputElement>('score-t');
  scoreT.max = String(T - 1);

  placeholder($<HTMLCanvasElement>('sample-canvas'), 'train a little, then press Sample');
  placeholder($<HTMLCanvasElement>('score-canvas'), 'the score field appears once training runs');
  let rateSteps = 0, rateT0 = performance.now(), rate = 0;
  const drawLoss = () => {
    const tr = state.trainer;
    if (!tr) return;
    const l = tr.losses;
    lineChart($<HTMLCanvasElement>('loss-chart'), [{ values: l, color: '#c9d7ea' }, { values: smooth(l), color: '#1f6feb' }], { yMin: 0, yMax: Math.max(1.2, ...smooth(l.slice(0, 20))) });
    const last = l.length ? smooth(l)[l.length - 1] : NaN;
    status.textContent = `step ${tr.step} · loss ${Number.isFinite(last) ? last.toFixed(4) : '–'} (smoothed) · ${rate.toFixed(0)} steps/s · ${tr.dataName}, ${tr.schedule} β, batch ${tr.batch}`;
    status.dataset.steps = String(tr.step);
  };

  const create = async () => {
    status.textContent = 'tracing and compiling the train step…';
    const t0 = performance.now();
    state.trainer = await Toy2dTrainer.create(dataSel.value, schedule(), Number($<HTMLSelectElement>('train-batch').value), Number($<HTMLSelectElement>('train-lr').value));
    status.textContent = `train step compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s; press Train`;
    drawLoss();
  };

  const loop = async () => {
    let lastDraw = 0;
    while (state.running && state.trainer) {
      const tr = state.trainer;
      const t0 = performance.now();
      while (performance.now() - t0 < 40 && state.running && tr === state.trainer) {
        await tr.stepOnce();
        rateSteps++;
      }
      const now = performance.now();
      if (now - rateT0 > 1000) { rate = (rateSteps * 1000) / (now - rateT0); rateSteps = 0; rateT0 = now; }
      if (now - lastDraw > 150) { drawLoss(); lastDraw = now; }
      if (now - lastScore > 1500 && !state.sampling) void drawScore();
      await nextFrame();
    }
    drawLoss();
  };

  on(toggle, 'click', async () => {
    if (!state.trainer) await create();
    state.running = !state.running;
    toggle.textContent = state.running ? 'Pause' : 'Train';
    if (state.running) { rateSteps = 0; rateT0 = performance.now(); await loop(); }
  });
  const restart = async () => {
    state.running = false;
    toggle.textContent = 'Train';
    await sleep(60);
    await create();
  };
  on(reset, 'click', restart);
  // A new data set, batch size or learning rate means a new model.
  for (const id of ['train-data', 'train-batch', 'train-lr']) on($(id), 'change', restart);

  // ---- score field ----
  let lastScore = 0, scoreBusy = false;
  const drawScore = async () => {
    const tr = state.trainer;
    if (!tr || tr.step === 0 || scoreBusy) return;
    scoreBusy = true;
    lastScore = performance.now();
    try {
      const t = Number(scoreT.value);
      $('score-t-out').textContent = String(t);
      const G = 19, grid = new NDArray([G * G, 2]);
      for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
        grid.data[2 * (i * G + j)] = -4 + (8 * j) / (G - 1);
        grid.data[2 * (i * G + j) + 1] = -4 + (8 * i) / (G - 1);
      }
      const abar = tr.objective.alphasCumprod[t];
      const eps = await tr.denoiser()(grid, new Float32Array(G * G).fill(t));
      const score = epsToScore(eps, Math.sqrt(1 - abar)); // grad log p_t = -eps / sigma_t
      const canvas = $<HTMLCanvasElement>('score-canvas');
      frame2d(canvas);
      const x0 = toy2d(tr.dataName).sample(1500, new Philox(5));
      const noise = new Philox(6).normal(x0.shape);
      const xt = x0.map((v, i) => Math.sqrt(abar) * v + Math.sqrt(1 - abar) * noise.data[i]);
      scatter(canvas, xt, '#c7ccd3', 2);
      let maxNorm = 0;
      for (let k = 0; k < G * G; k++) maxNorm = Math.max(maxNorm, Math.hypot(score.data[2 * k], score.data[2 * k + 1]));
      const c = ctx2d(canvas);
      c.strokeStyle = '#d6336c';
      c.lineWidth = 1.2;
      const cell = 8 / (G - 1);
      for (let k = 0; k < G * G; k++) {
        const sx = score.data[2 * k], sy = score.data[2 * k + 1], n = Math.hypot(sx, sy);
        if (!(n > 0)) continue;
        const len = 0.9 * cell * Math.sqrt(n / maxNorm); // sqrt: weak arrows stay visible
        arrow(c, canvas, grid.data[2 * k], grid.data[2 * k + 1], (sx / n) * len, (sy / n) * len);
      }
      $('score-caption').textContent = `step ${tr.step}: arrows ∝ √|score|, longest |score| = ${maxNorm.toFixed(2)}; grey: x_t of the data`;
    } finally {
      scoreBusy = false;
    }
  };
  on(scoreT, 'input', () => { $('score-t-out').textContent = scoreT.value; return drawScore(); });

  // ---- sampling ----
  on(sampleBtn, 'click', async () => {
    const tr = state.trainer;
    const canvas = $<HTMLCanvasElement>('sample-canvas');
    if (!tr || tr.step === 0) { $('sample-caption').textContent = 'train the model first (section 2)'; return; }
    if (state.sampling) return;
    state.sampling = true;
    sampleBtn.disabled = true;
    try {
      const steps = Number($<HTMLInputElement>('sample-steps').value);
      if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000)) throw new Error(`steps = ${steps}: expected an integer in 1..1000`);
      const n = Number($<HTMLSelectElement>('sample-n').value);
      const sched = tr.scheduler(schedSel.value);
      const t0 = performance.now();
      const { frames, nfe } = await sampleTrajectory(tr.denoiser(), sched, [n, 2], steps, Number($<HTMLInputElement>('sample-seed').value));
      const secs = (performance.now() - t0) / 1000;
      const data = toy2d(tr.dataName).sample(n, new Philox(3));
      const delay = Math.max(16, Math.min(120, 2500 / frames.length));
      for (let k = 0; k < frames.length; k++) {
        frame2d(canvas);
        scatter(canvas, data, '#d5d9de', 2);
        trails(canvas, frames.slice(0, k + 1), 40, 'rgba(232, 89, 12, 0.55)');
        scatter(canvas, frames[k], '#1f6feb', 2);
        $('sample-caption').textContent = `${schedSel.value}: step ${k}/${frames.length - 1} · ${nfe} model evaluations in ${secs.toFixed(2)} s · model step ${tr.step}`;
        await sleep(delay);
      }
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? 0) + 1);
    } finally {
      state.sampling = false;
      sampleBtn.disabled = false;
    }
  });

  create().then(() => { toggle.disabled = false; reset.disabled = false; sampleBtn.disabled = false; onReady(); }, (e) => report(e, 'mlp-2d train step'));
  return state;
}

