/**
 * The model worker: every piece of model work of the playground runs here, off the page's main
 * thread — ONNX Runtime Web sessions, tracing and compiling the train step, training, sampling, the
 * score field, sampler comparison with MMD², the digits UNet, inpainting and the digit classifier.
 * The page only draws; it talks to this worker through web/src/worker_client.ts (messages in
 * web/src/protocol.ts). All math is the toolkit's own (web/src/lib.ts).
 */
import {
  BETA_SCHEDULES,
  DDIMScheduler,
  DDPMScheduler,
  SCHEDULER_ALIASES,
  TOY2D_NAMES,
  alphasFromBetas,
  betasFor,
  DiffusionObjective,
  Ema,
  MnistClassifier,
  NDArray,
  Philox,
  TOY2D_RECIPE,
  TrainStep,
  addNoise,
  adaptModelToScheduler,
  checkParams,
  createModel,
  modelConfig,
  denoiserFor,
  denoiserWithWeightInputs,
  diffusionLoss,
  epsToScore,
  generate,
  inpaint,
  mmdRatio,
  modelFromConfig,
  parseSafetensors,
  samplingScheduler,
  setBackend,
  toy2d,
  warmupCosine,
  webBackend,
  withParams,
  type AsyncModelFn,
  type DiffusionModel,
  type Scheduler,
} from './lib.ts';
import * as ort from 'onnxruntime-web';
import classifierUrl from '../../src/eval/assets/mnist_classifier.safetensors?url';
import type { Api, CompareCell, DigitRunWire, Op, Reply, Request, SampleRun, TrainTick, Wire } from './protocol.ts';

const T = 1000;
const MODEL_DIR = 'models/unet-s-mnist/';
const post = (r: Reply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(r, transfer);
const wire = (a: NDArray): Wire => ({
  shape: [...a.shape],
  data: a.data instanceof Float32Array ? a.data : Float32Array.from(a.data),
});
const unwire = (w: Wire): NDArray => new NDArray(w.shape, w.data);
/** Yield to the worker's event loop so queued messages (pause, sample) are handled. */
const yieldTask = () => new Promise<void>((r) => setTimeout(r, 0));
let baseUrl = '';

// ---------------------------------------------------------------- mlp-2d

/** Samples in the variance-preserving frame: sigma-space schedulers (Euler, Heun, ...) hold x0 + sigma eps. */
function toVpFrame(x: NDArray, scheduler: Scheduler, index: number): NDArray {
  const sigmas = (scheduler as unknown as { sigmas?: ArrayLike<number> }).sigmas;
  if (!(scheduler.initNoiseSigma > 1.5) || !sigmas) return x;
  const s = Number(sigmas[Math.min(index, sigmas.length - 1)]);
  return x.mulScalar(1 / Math.sqrt(1 + s * s));
}

/** An mlp-2d trained on a toy set with the library's toy recipe (TOY2D_RECIPE). */
class Toy2dTrainer {
  step = 0;
  losses: number[] = [];
  private readonly dataRng = new Philox(1);
  private readonly noiseRng = new Philox(2);
  readonly lrAt: (step: number) => number;
  readonly sampleWith: (weights: Record<string, NDArray>) => AsyncModelFn;
  readonly totalSteps = TOY2D_RECIPE.steps;

  private constructor(
    readonly dataName: string,
    readonly batch: number,
    readonly model: DiffusionModel,
    readonly objective: DiffusionObjective,
    readonly trainStep: TrainStep,
    readonly ema: Ema,
    readonly schedulerConfig: Record<string, unknown>,
    lr: number,
  ) {
    const r = TOY2D_RECIPE;
    this.lrAt = warmupCosine({ lr, warmupSteps: r.warmupSteps, totalSteps: r.steps, minLr: r.minLr });
    this.sampleWith = denoiserWithWeightInputs(model);
  }

  static async create(dataName: string, schedule: string, batch: number, lr: number, seed = 0): Promise<Toy2dTrainer> {
    toy2d(dataName); // validates the name
    const r = TOY2D_RECIPE;
    const model = createModel(modelConfig('mlp-2d', r.model) as unknown as Record<string, unknown>);
    const noise = new DDPMScheduler({ num_train_timesteps: r.trainTimesteps, beta_schedule: schedule });
    const objective = new DiffusionObjective(noise.alphasCumprod, {
      predictionType: r.predictionType,
      snrGamma: r.snrGamma,
    });
    const params = model.initParams(new Philox(seed));
    const ts = await TrainStep.create(
      (p, b) => withParams(model, p, () => diffusionLoss(model.forward(b.x_t, b.t), b, objective)),
      params,
      objective.batchSpecs([batch, 2]),
      { maxGradNorm: r.maxGradNorm ?? undefined, optimizer: { weightDecay: r.weightDecay } },
    );
    const ema = new Ema(params, r.ema ? { maxDecay: r.ema.maxDecay, power: r.ema.power } : { maxDecay: 0 });
    return new Toy2dTrainer(
      dataName,
      batch,
      model,
      objective,
      ts,
      ema,
      noise.toConfig() as Record<string, unknown>,
      lr,
    );
  }

  async stepOnce(): Promise<number> {
    const x0 = toy2d(this.dataName).sample(this.batch, this.dataRng);
    const { loss } = await this.trainStep.step(this.objective.makeBatch(x0, this.noiseRng), this.lrAt(this.step));
    this.ema.update(this.trainStep.params);
    this.step += 1;
    this.losses.push(loss);
    return loss;
  }

  scheduler(name: string): Scheduler {
    return samplingScheduler(name, this.schedulerConfig, { clip_sample: false });
  }

  denoiser(): AsyncModelFn {
    return this.sampleWith(Object.fromEntries(Object.entries(this.ema.params).map(([k, v]) => [k, v.clone()])));
  }
}

let trainer: Toy2dTrainer | null = null;
let running = false;
let sentLosses = 0;
let rate = 0;

function tick(): TrainTick {
  const tr = trainer!;
  const losses = tr.losses.slice(sentLosses);
  sentLosses = tr.losses.length;
  return {
    step: tr.step,
    totalSteps: tr.totalSteps,
    losses,
    rate,
    running,
    lr: tr.lrAt(Math.max(0, tr.step - 1)),
    finished: tr.step >= tr.totalSteps,
  };
}

function needTrainer(): Toy2dTrainer {
  if (!trainer || trainer.step === 0) throw new Error('train the model first (section 2: press Train or Step)');
  return trainer;
}

async function sampleTrajectory(
  model: AsyncModelFn,
  scheduler: Scheduler,
  shape: number[],
  steps: number,
  seed: number,
): Promise<{ frames: NDArray[]; x: NDArray; nfe: number }> {
  const initialNoise = new Philox(seed).normal(shape);
  const frames: NDArray[] = [initialNoise];
  let nfe = 0;
  const counted: AsyncModelFn = (x, t, c) => {
    nfe++;
    return model(x, t, c);
  };
  const x = await generate(counted, scheduler, {
    shape,
    steps,
    generator: new Philox(seed + 1_000_003),
    initialNoise,
    onStep: ({ index, sample }) => frames.push(toVpFrame(sample, scheduler, index + 1)),
  });
  return { frames, x, nfe };
}

async function sample2d(
  tr: Toy2dTrainer,
  scheduler: string,
  steps: number,
  n: number,
  seed: number,
): Promise<SampleRun> {
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000))
    throw new Error(`steps = ${steps}: expected a whole number from 1 to 1000`);
  const t0 = performance.now();
  const modelStep = tr.step;
  const { frames, nfe } = await sampleTrajectory(tr.denoiser(), tr.scheduler(scheduler), [n, 2], steps, seed);
  return {
    frames: frames.map(wire),
    nfe,
    seconds: (performance.now() - t0) / 1000,
    modelStep,
    data: wire(toy2d(tr.dataName).sample(n, new Philox(3))),
  };
}

/** The training loop: chunks of ~40 ms of steps, a tick to the page after each, live samples every ~2.5 s. */
async function trainLoop(maxSteps: number): Promise<void> {
  const tr = trainer!;
  let done = 0,
    rateSteps = 0,
    rateT0 = performance.now(),
    lastLive = 0;
  while (running && tr === trainer && done < maxSteps && tr.step < tr.totalSteps) {
    const t0 = performance.now();
    while (performance.now() - t0 < 40 && running && done < maxSteps && tr.step < tr.totalSteps) {
      await tr.stepOnce();
      done++;
      rateSteps++;
    }
    const now = performance.now();
    if (now - rateT0 > 1000) {
      rate = (rateSteps * 1000) / (now - rateT0);
      rateSteps = 0;
      rateT0 = now;
    }
    post({ id: 0, kind: 'event', name: 'tick', value: tick() });
    if (now - lastLive > 2500 && maxSteps > 1) {
      lastLive = now;
      const live = await sample2d(tr, TOY2D_RECIPE.sampler.scheduler, TOY2D_RECIPE.sampler.steps, 600, 0);
      live.frames = live.frames.slice(-1);
      post({ id: 0, kind: 'event', name: 'live', value: live });
    }
    await yieldTask();
  }
  if (tr === trainer) running = false;
}

// ---------------------------------------------------------------- forward view

/** Schedules the forward view offers (the ones every scheduler class accepts). */
const FORWARD_SCHEDULES: string[] = BETA_SCHEDULES.filter((s) =>
  ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'sigmoid'].includes(s),
);
const abarCache = new Map<string, Float32Array>();

/** alpha-bar of a named beta schedule with diffusers' DDPM defaults (beta 1e-4 .. 0.02, T = 1000). */
function alphasCumprodOf(schedule: string): Float32Array {
  if (!FORWARD_SCHEDULES.includes(schedule))
    throw new Error(`β schedule '${schedule}': expected one of ${FORWARD_SCHEDULES.join(', ')}`);
  let a = abarCache.get(schedule);
  if (!a) {
    a = alphasFromBetas(betasFor({ num_train_timesteps: T, beta_schedule: schedule }, 'forward view')).alphasCumprod;
    abarCache.set(schedule, a);
  }
  return a;
}

let mnistDigits: Promise<NDArray> | null = null;
const forwardCache = new Map<string, { x0: NDArray; noise: NDArray }>();

/** MNIST digits shipped with the page: [n, 1, 28, 28] in [-1, 1], digit = index % 10. */
async function loadMnistDigits(): Promise<NDArray> {
  const res = await fetch(new URL('data/mnist-digits.bin', baseUrl));
  if (!res.ok) throw new Error(`data/mnist-digits.bin: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const n = bytes.length / 784;
  if (!Number.isInteger(n))
    throw new Error(`data/mnist-digits.bin: ${bytes.length} bytes is not a whole number of 28x28 images`);
  return new NDArray(
    [n, 1, 28, 28],
    Float32Array.from(bytes, (v) => (v / 255) * 2 - 1),
  );
}

/** x0 and its noise for the forward view (drawn once per data set, so moving t is continuous). */
async function forwardData(name: string): Promise<{ x0: NDArray; noise: NDArray }> {
  let e = forwardCache.get(name);
  if (e) return e;
  let x0: NDArray;
  const digit = /^digit:(\d)$/.exec(name);
  if (digit) {
    mnistDigits ??= loadMnistDigits();
    const all = await mnistDigits;
    const d = Number(digit[1]);
    x0 = new NDArray([1, 1, 28, 28], all.data.slice(d * 784, (d + 1) * 784));
  } else {
    x0 = toy2d(name).sample(2000, new Philox(7));
  }
  e = { x0, noise: new Philox(11).normal(x0.shape) };
  forwardCache.set(name, e);
  return e;
}

// ---------------------------------------------------------------- digits

interface DigitModel {
  denoise: AsyncModelFn;
  schedulerConfig: Record<string, unknown>;
  nullClass: number | null;
  info: Record<string, unknown>;
  weightsBytes: number;
  provenance: string;
}
let digitModel: Promise<DigitModel> | null = null;

async function fetchOk(path: string): Promise<Response> {
  const res = await fetch(new URL(path, baseUrl));
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  if ((res.headers.get('content-type') ?? '').includes('text/html'))
    throw new Error(`${path} is missing from this server (it ships in web/public/${path})`);
  return res;
}

async function loadDigitModel(): Promise<DigitModel> {
  const get = (f: string) => fetchOk(MODEL_DIR + f);
  const [config, schedulerConfig, info, bytes, provenance] = await Promise.all([
    get('config.json').then((r) => r.json()),
    get('scheduler_config.json').then((r) => r.json()),
    get('diffuse.json').then((r) => r.json()),
    get('diffusion_pytorch_model.safetensors').then((r) => r.arrayBuffer()),
    get('PROVENANCE.md').then((r) => r.text()),
  ]);
  const where = `${MODEL_DIR}diffusion_pytorch_model.safetensors`;
  const file = parseSafetensors(new Uint8Array(bytes), { source: where, requireFinite: true });
  const weights: Record<string, NDArray> = {};
  for (const name of file.entries.keys()) weights[name] = file.ndarray(name);
  const model = modelFromConfig(config, `${MODEL_DIR}config.json`);
  checkParams(model, weights, where);
  const nullClass = typeof info.nullClass === 'number' ? info.nullClass : null;
  return {
    denoise: denoiserFor(model, weights),
    schedulerConfig,
    nullClass,
    info,
    weightsBytes: bytes.byteLength,
    provenance,
  };
}

function digits(): Promise<DigitModel> {
  if (!digitModel) {
    digitModel = loadDigitModel();
    digitModel.catch(() => {
      digitModel = null;
    });
  }
  return digitModel;
}

function digitScheduler(name: string, m: DigitModel): Scheduler {
  return samplingScheduler(name, m.schedulerConfig, { clip_sample: m.schedulerConfig.clip_sample !== false });
}

function checkSteps(steps: number): void {
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000))
    throw new Error(`steps = ${steps}: expected a whole number from 1 to 1000`);
}

/** Digits with labels `labels` and guidance w; keeps sample 0's x_t and x̂0 at every step. */
async function sampleDigits(
  m: DigitModel,
  scheduler: Scheduler,
  labels: number[],
  w: number,
  steps: number,
  seed: number,
  progress?: (k: number, n: number) => void,
): Promise<DigitRunWire> {
  checkSteps(steps);
  if (!(w >= 0 && w <= 10)) throw new Error(`guidance w = ${w}: expected a number from 0 to 3`);
  if (w !== 1 && m.nullClass === null)
    throw new Error('guidance: this checkpoint was trained without label dropout (no null class); use w = 1');
  const n = labels.length,
    shape = [n, 1, 28, 28];
  const first = (a: NDArray) => wire(new NDArray([1, 1, 28, 28], a.data.slice(0, 784)));
  const run: DigitRunWire = {
    x: { shape, data: new Float32Array(0) },
    xt: [],
    x0: [],
    timesteps: [],
    nfe: 0,
    seconds: 0,
  };
  const t0 = performance.now();
  const counted: AsyncModelFn = (x, t, c) => {
    run.nfe++;
    return m.denoise(x, t, c);
  };
  // an EDM-trained checkpoint is converted to what the scheduler calls; a VP one is called as it is
  const x = await generate(adaptModelToScheduler(counted, m.schedulerConfig, scheduler), scheduler, {
    shape,
    steps,
    generator: new Philox(seed + 1_000_003),
    initialNoise: new Philox(seed).normal(shape),
    classLabels: labels,
    guidanceScale: w,
    nullClass: m.nullClass ?? undefined,
    onStep: ({ index, timestep, sample, predOriginal }) => {
      run.xt.push(first(toVpFrame(sample, scheduler, index + 1)));
      run.x0.push(predOriginal ? first(predOriginal) : null);
      run.timesteps.push(timestep);
      progress?.(index + 1, scheduler.timesteps.length);
    },
  });
  run.x = wire(x);
  run.seconds = (performance.now() - t0) / 1000;
  return run;
}

let classifier: Promise<MnistClassifier> | null = null;
function mnistClassifier(): Promise<MnistClassifier> {
  if (!classifier) {
    classifier = (async () => {
      const res = await fetch(new URL(classifierUrl, baseUrl));
      if (!res.ok) throw new Error(`digit classifier weights ${classifierUrl}: HTTP ${res.status}`);
      const file = parseSafetensors(new Uint8Array(await res.arrayBuffer()), {
        source: 'mnist_classifier.safetensors',
        requireFinite: true,
      });
      const weights: Record<string, NDArray> = {};
      for (const name of file.entries.keys()) weights[name] = file.ndarray(name);
      return new MnistClassifier(weights);
    })();
    classifier.catch(() => {
      classifier = null;
    });
  }
  return classifier;
}

async function classify(images: NDArray): Promise<number[][]> {
  const { probs } = await (await mnistClassifier()).run(images);
  return Array.from({ length: images.shape[0] }, (_, i) => Array.from(probs.data.subarray(i * 10, i * 10 + 10)));
}

/** The largest step count whose NFE fits `budget`, or null. */
function stepsForNfe(make: () => Scheduler, budget: number): { steps: number; nfe: number } | null {
  for (let s = budget; s >= 1; s--) {
    try {
      const sched = make();
      sched.setTimesteps(s);
      if (sched.timesteps.length <= budget) return { steps: s, nfe: sched.timesteps.length };
    } catch {
      // some schedulers refuse very small step counts: try fewer
    }
  }
  return null;
}

/**
 * The scheduler aliases for these models: DDPM-trained (variance-preserving, integer t). The EDM and
 * VE aliases expect models trained in their own parameterization (c_noise inputs, sigma up to ~157), and the
 * consistency-model samplers (lcm, cm-stochastic) distilled consistency models (the worker calls the network as is).
 */
const NOT_FOR_DDPM_MODELS = new Set(['score-sde-ve', 'lcm', 'cm-stochastic']);
const VP_SCHEDULERS = Object.keys(SCHEDULER_ALIASES).filter(
  (k) => !k.startsWith('edm-') && !NOT_FOR_DDPM_MODELS.has(k),
);

// ---------------------------------------------------------------- requests

type Handler<K extends Op> = (args: Api[K][0], progress: (v: unknown) => void) => Promise<Api[K][1]>;
const handlers: { [K in Op]: Handler<K> } = {
  async hello({ baseUrl: base }) {
    baseUrl = base;
    const r = TOY2D_RECIPE;
    return {
      T,
      toy2dNames: [...TOY2D_NAMES],
      schedules: FORWARD_SCHEDULES,
      schedulerNames: VP_SCHEDULERS,
      recipe: { batchSize: r.batchSize, lr: r.lr, steps: r.steps, sampler: { ...r.sampler } },
    };
  },
  async 'forward.curve'({ schedule }) {
    return { abar: alphasCumprodOf(schedule) };
  },
  async 'forward.view'({ data, schedule, t }) {
    if (!(Number.isInteger(t) && t >= 0 && t < T))
      throw new Error(`t = ${t}: expected a whole number from 0 to ${T - 1}`);
    const { x0, noise } = await forwardData(data);
    const abar = alphasCumprodOf(schedule);
    return { xt: wire(addNoise(x0, noise, abar, t)), abar: abar[t], image: x0.ndim === 4 };
  },
  async init({ wasmPaths, preferWebGpu }) {
    const backend = await webBackend({ wasmPaths, preferWebGpu });
    setBackend(backend);
    const eps = backend.webGpuAdapter
      ? '[webgpu, wasm] for the digits UNet, [wasm] for the small MLP'
      : `[wasm]${backend.webGpuAdapter === false ? ' (no WebGPU adapter in this browser)' : ''}`;
    const threads = crossOriginIsolated
      ? 'wasm threads available'
      : 'single-threaded wasm (page not cross-origin isolated)';
    return {
      label: `ONNX Runtime Web ${ort.env.versions.web ?? ''} in a Web Worker, execution providers ${eps}; ${threads}`,
      executionProviders: backend.executionProviders,
      webGpuAdapter: backend.webGpuAdapter,
      crossOriginIsolated,
      ortVersion: ort.env.versions.web ?? '',
    };
  },
  async 'train.create'({ data, schedule, batch, lr, seed }) {
    running = false;
    const t0 = performance.now();
    trainer = null;
    trainer = await Toy2dTrainer.create(data, schedule, batch, lr, seed);
    sentLosses = 0;
    return { seconds: (performance.now() - t0) / 1000, totalSteps: trainer.totalSteps };
  },
  async 'train.play'({ maxSteps }) {
    if (!trainer) throw new Error('the train step is still compiling; try again in a moment');
    if (running) return tick();
    running = true;
    await trainLoop(maxSteps ?? Infinity);
    running = false;
    return tick();
  },
  async 'train.pause'() {
    running = false;
    if (!trainer) throw new Error('nothing is training');
    return tick();
  },
  async 'train.sample'({ scheduler, steps, n, seed }) {
    return sample2d(needTrainer(), scheduler, steps, n, seed);
  },
  async 'train.score'({ t }) {
    const tr = needTrainer();
    if (!(Number.isInteger(t) && t >= 0 && t < T))
      throw new Error(`t = ${t}: expected a whole number from 0 to ${T - 1}`);
    const G = 19,
      grid = new NDArray([G * G, 2]);
    for (let i = 0; i < G; i++)
      for (let j = 0; j < G; j++) {
        grid.data[2 * (i * G + j)] = -4 + (8 * j) / (G - 1);
        grid.data[2 * (i * G + j) + 1] = -4 + (8 * i) / (G - 1);
      }
    const abar = tr.objective.alphasCumprod[t];
    const modelStep = tr.step;
    const eps = await tr.denoiser()(grid, new Float32Array(G * G).fill(t));
    const score = epsToScore(eps, Math.sqrt(1 - abar)); // grad log p_t = -eps / sigma_t
    const x0 = toy2d(tr.dataName).sample(1500, new Philox(5));
    const xt = addNoise(x0, new Philox(6).normal(x0.shape), tr.objective.alphasCumprod, t);
    return { grid: wire(grid), score: wire(score), xt: wire(xt), modelStep, t };
  },
  async 'train.compare'({ budget, n, names }, progress) {
    const tr = needTrainer();
    const model = tr.denoiser();
    const data = toy2d(tr.dataName).sample(n, new Philox(4));
    // The floor: the same statistic for fresh data sets of the same size (what a perfect model scores).
    const fresh = [toy2d(tr.dataName).sample(n, new Philox(40)), toy2d(tr.dataName).sample(n, new Philox(41))];
    const floor = mmdRatio(fresh[0], data, fresh).floor;
    progress({ data: wire(data), floor, names });
    const cells: CompareCell[] = [];
    for (const name of names) {
      const fit = stepsForNfe(() => tr.scheduler(name), budget);
      let cell: CompareCell;
      if (!fit)
        cell = {
          name,
          steps: 0,
          nfe: 0,
          x: { shape: [0, 2], data: new Float32Array(0) },
          error: `no step count fits NFE ${budget}`,
        };
      else {
        const { x, nfe } = await sampleTrajectory(model, tr.scheduler(name), [n, 2], fit.steps, 0);
        cell = { name, steps: fit.steps, nfe, x: wire(x), mmd: mmdRatio(x, data, fresh).mmd2 };
      }
      cells.push(cell);
      progress({ cell });
      await yieldTask();
    }
    return { cells, floor };
  },
  async 'digits.load'() {
    const m = await digits();
    return {
      step: (m.info.step as number) ?? '?',
      nullClass: m.nullClass,
      weightsBytes: m.weightsBytes,
      provenance: m.provenance,
    };
  },
  async 'digits.sample'({ labels, w, scheduler, steps, seed }, progress) {
    const m = await digits();
    return sampleDigits(m, digitScheduler(scheduler, m), labels, w, steps, seed, (k, n) => progress({ k, n }));
  },
  async 'digits.compare'({ budget, labels, w, names }, progress) {
    const m = await digits();
    const cells: CompareCell[] = [];
    for (const name of names) {
      const fit = stepsForNfe(() => digitScheduler(name, m), budget);
      let cell: CompareCell;
      if (!fit)
        cell = {
          name,
          steps: 0,
          nfe: 0,
          x: { shape: [0, 1, 28, 28], data: new Float32Array(0) },
          error: `no step count fits NFE ${budget}`,
        };
      else {
        const run = await sampleDigits(m, digitScheduler(name, m), labels, w, fit.steps, 0);
        cell = { name, steps: fit.steps, nfe: run.nfe, x: run.x };
      }
      cells.push(cell);
      progress({ cell });
      await yieldTask();
    }
    return { cells };
  },
  async 'digits.inpaint'({ image, known, label, w, steps, seed }, progress) {
    checkSteps(steps);
    const m = await digits();
    if (label === null && m.nullClass === null)
      throw new Error('this checkpoint has no null class: pick a digit to complete');
    // The library's replacement-method inpainting (src/pipelines/inpaint.ts) with DDIM.
    const scheduler = new DDIMScheduler({ ...m.schedulerConfig, clip_sample: true });
    const run: DigitRunWire = { x: image, xt: [], x0: [], timesteps: [], nfe: 0, seconds: 0 };
    const t0 = performance.now();
    const counted: AsyncModelFn = (x, t, c) => {
      run.nfe++;
      return m.denoise(x, t, c);
    };
    const x = await inpaint(adaptModelToScheduler(counted, m.schedulerConfig, scheduler), scheduler, {
      known: unwire(image),
      mask: unwire(known),
      steps,
      generator: new Philox(seed),
      classLabels: [label ?? m.nullClass!],
      guidanceScale: label === null ? 1 : w,
      nullClass: m.nullClass ?? undefined,
      onStep: ({ index, timestep, sample, predOriginal }) => {
        run.xt.push(wire(sample.clone()));
        run.x0.push(predOriginal ? wire(predOriginal.clone()) : null);
        run.timesteps.push(timestep);
        progress({ k: index + 1, n: steps });
      },
    });
    run.seconds = (performance.now() - t0) / 1000;
    const probs = await classify(x);
    return { ...run, x: wire(x), probs: probs[0] };
  },
  async classify({ images }) {
    return { probs: await classify(unwire(images)) };
  },
};

/** Requests that need no ONNX Runtime: answered at once, while the engine starts. */
const UNGATED: Op[] = ['hello', 'forward.curve', 'forward.view'];
/** Settles when `init` has set the backend: every other request waits for it. */
let initialized: Promise<unknown> | null = null;

self.onmessage = async (ev: MessageEvent<Request>) => {
  const { id, op, args } = ev.data;
  try {
    const h = handlers[op] as Handler<Op>;
    if (!h) throw new Error(`model worker: unknown request '${op}'`);
    if (op === 'init') initialized = h(args as never, () => undefined);
    else if (UNGATED.includes(op)) {
      post({ id, kind: 'result', value: await h(args as never, () => undefined) });
      return;
    } else if (!initialized) throw new Error(`model worker: '${op}' before init`);
    else await initialized;
    if (op === 'init') {
      post({ id, kind: 'result', value: await initialized });
      return;
    }
    const value = await h(args as never, (v) => post({ id, kind: 'progress', value: v }));
    post({ id, kind: 'result', value });
  } catch (e) {
    post({ id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
