/**
 * Section 4: the shipped class-conditional unet-s (a diffusers-layout folder written by `diffuse train`)
 * sampled per class with classifier-free guidance, showing x_t and the x0 prediction along the way.
 */
import {
  NDArray, Philox, checkParams, denoiserFor, generate, modelFromConfig, parseSafetensors, samplingScheduler, SCHEDULER_ALIASES,
  type AsyncModelFn, type DiffusionModel, type Scheduler,
} from './lib.ts';
import { $, on } from './dom.ts';
import { clear, drawGray, imageGrid, placeholder } from './plot.ts';
import { toVpFrame } from './train2d.ts';

export const MODEL_DIR = 'models/unet-s-mnist/';

export interface DigitModel {
  model: DiffusionModel;
  denoise: AsyncModelFn;
  schedulerConfig: Record<string, unknown>;
  nullClass: number | null;
  /** diffuse.json of the run: training step etc. */
  info: Record<string, unknown>;
  weightsBytes: number;
}

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(new URL(MODEL_DIR + path, document.baseURI));
  if (!res.ok) throw new Error(`${MODEL_DIR}${path}: HTTP ${res.status}`);
  // Dev/preview servers answer a missing file with index.html.
  if ((res.headers.get('content-type') ?? '').includes('text/html')) throw new Error(`${MODEL_DIR}${path} is missing from this server (the checkpoint folder ships in web/public/${MODEL_DIR})`);
  return res;
}

/** Fetch and validate the checkpoint folder (config keys, parameter names and shapes). */
export async function loadDigitModel(): Promise<DigitModel> {
  const [config, schedulerConfig, info, bytes] = await Promise.all([
    fetchOk('config.json').then((r) => r.json()),
    fetchOk('scheduler_config.json').then((r) => r.json()),
    fetchOk('diffuse.json').then((r) => r.json()),
    fetchOk('diffusion_pytorch_model.safetensors').then((r) => r.arrayBuffer()),
  ]);
  const where = `${MODEL_DIR}diffusion_pytorch_model.safetensors`;
  const file = parseSafetensors(new Uint8Array(bytes), { source: where, requireFinite: true });
  const weights: Record<string, NDArray> = {};
  for (const name of file.entries.keys()) weights[name] = file.ndarray(name);
  const model = modelFromConfig(config, `${MODEL_DIR}config.json`);
  checkParams(model, weights, where);
  const nullClass = typeof info.nullClass === 'number' ? info.nullClass : null;
  return { model, denoise: denoiserFor(model, weights), schedulerConfig, nullClass, info, weightsBytes: bytes.byteLength };
}

/** The image-data sampling scheduler (clip x0 to [-1, 1] like `diffuse sample` does for images). */
export function digitScheduler(name: string, m: DigitModel): Scheduler {
  return samplingScheduler(name, m.schedulerConfig, { clip_sample: m.schedulerConfig.clip_sample !== false });
}

export interface DigitRun { x: NDArray; xt: NDArray[]; x0: (NDArray | undefined)[]; timesteps: number[]; nfe: number; seconds: number }

/** Sample digits with labels `labels`, guidance w; keeps sample 0's x_t and x0-prediction at every step. */
export async function sampleDigits(m: DigitModel, scheduler: Scheduler, labels: number[], w: number, steps: number, seed: number, progress?: (done: number, total: number) => void): Promise<DigitRun> {
  const n = labels.length;
  const shape = [n, 1, 28, 28];
  const first = (a: NDArray) => new NDArray([1, 1, 28, 28], a.data.slice(0, 784));
  const run: DigitRun = { x: new NDArray(shape), xt: [], x0: [], timesteps: [], nfe: 0, seconds: 0 };
  const t0 = performance.now();
  const counted: AsyncModelFn = (x, t, c) => { run.nfe++; return m.denoise(x, t, c); };
  if (w !== 1 && m.nullClass === null) throw new Error('guidance: this checkpoint was trained without label dropout (no null class); use w = 1');
  run.x = await generate(counted, scheduler, {
    shape, steps, generator: new Philox(seed + 1_000_003), initialNoise: new Philox(seed).normal(shape),
    classLabels: labels, guidanceScale: w, nullClass: m.nullClass ?? undefined,
    onStep: ({ index, timestep, sample, predOriginal }) => {
      run.xt.push(first(toVpFrame(sample, scheduler, index + 1)));
      run.x0.push(predOriginal ? first(predOriginal) : undefined);
      run.timesteps.push(timestep);
      progress?.(index + 1, scheduler.timesteps.length);
    },
  });
  run.seconds = (performance.now() - t0) / 1000;
  return run;
}

export interface DigitsPanel {
  model: () => Promise<DigitModel>;
  /** The latest run of the Sample digits button (for tests and the console). */
  lastRun: DigitRun | null;
}

export function setupDigits(): DigitsPanel {
  const classSel = $<HTMLSelectElement>('digits-class');
  classSel.add(new Option('all (0–9)', 'all'));
  for (let d = 0; d < 10; d++) classSel.add(new Option(String(d), String(d)));
  const schedSel = $<HTMLSelectElement>('digits-scheduler');
  for (const k of Object.keys(SCHEDULER_ALIASES)) schedSel.add(new Option(k, k));
  schedSel.value = 'ddim';
  const wIn = $<HTMLInputElement>('digits-w');
  on(wIn, 'input', () => { $('digits-w-out').textContent = wIn.value; });
  const btn = $<HTMLButtonElement>('digits-run');
  const caption = $('digits-caption');

  let loading: Promise<DigitModel> | null = null;
  const panel: DigitsPanel = { model: () => model(), lastRun: null };
  const model = () => {
    if (!loading) {
      caption.textContent = 'loading the unet-s checkpoint…';
      loading = loadDigitModel();
      loading.catch(() => { loading = null; });
    }
    return loading;
  };

  on(btn, 'click', async () => {
    btn.disabled = true;
    try {
      const m = await model();
      const perClass = Number($<HTMLSelectElement>('digits-n').value);
      const all = classSel.value === 'all';
      const labels = all ? Array.from({ length: 10 * perClass }, (_, i) => i % 10) : Array.from({ length: perClass }, () => Number(classSel.value));
      const steps = Number($<HTMLInputElement>('digits-steps').value);
      if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000)) throw new Error(`steps = ${steps}: expected an integer in 1..1000`);
      const w = Number(wIn.value);
      caption.textContent = `sampling ${labels.length} digits…`;
      const run = await sampleDigits(m, digitScheduler(schedSel.value, m), labels, w, steps, Number($<HTMLInputElement>('digits-seed').value),
        (k, n) => { caption.textContent = `sampling ${labels.length} digits${w !== 1 ? ' (+ as many unconditional, for guidance)' : ''}: step ${k}/${n}…`; });
      panel.lastRun = run;
      const canvas = $<HTMLCanvasElement>('digits-canvas');
      imageGrid(canvas, run.x, all ? 10 : Math.min(labels.length, 8), 3);
      canvas.dataset.drawn = String(Number(canvas.dataset.drawn ?? 0) + 1);
      caption.textContent = `${labels.length} samples (${all ? 'columns: 0–9' : `digit ${classSel.value}`}), w = ${w}, ${schedSel.value} ${steps} steps: ${run.nfe} model evaluations in ${run.seconds.toFixed(1)} s · checkpoint step ${m.info.step ?? '?'}`;
      drawX0Strip(run);
    } finally {
      btn.disabled = false;
    }
  });
  placeholder($<HTMLCanvasElement>('digits-canvas'), 'press Sample digits', false);
  placeholder($<HTMLCanvasElement>('digits-x0'), 'x_t and x̂0 of the first sample appear here', false);
  btn.disabled = false;
  return panel;
}

/** x_t (top) and x0-prediction (bottom) of sample 0 at up to 10 evenly spaced steps. */
function drawX0Strip(run: DigitRun): void {
  const canvas = $<HTMLCanvasElement>('digits-x0');
  const K = Math.min(10, run.xt.length);
  const picks = Array.from({ length: K }, (_, k) => Math.round((k * (run.xt.length - 1)) / Math.max(1, K - 1)));
  const s = 2, cellW = 28 * s + 12;
  canvas.width = K * cellW;
  canvas.height = 2 * 28 * s + 40;
  const c = clear(canvas);
  c.fillStyle = '#333';
  c.font = '11px system-ui, sans-serif';
  picks.forEach((i, k) => {
    drawGray(c, run.xt[i].data, 28, 28, k * cellW, 14, s);
    const x0 = run.x0[i];
    if (x0) drawGray(c, x0.data, 28, 28, k * cellW, 14 + 28 * s + 6, s);
    else c.fillText('no x̂0', k * cellW + 8, 14 + 28 * s + 30);
    c.fillText(`t=${Math.round(run.timesteps[i])}`, k * cellW, 10);
  });
}
