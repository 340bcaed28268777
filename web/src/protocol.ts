/**
 * The messages between the page (main thread: drawing and controls only) and the model worker
 * (web/src/model_worker.ts: ONNX Runtime, tracing, training, sampling). Arrays travel as plain
 * Float32Arrays with a shape; nothing here imports the toolkit.
 */

/** A tensor on the wire. */
export interface Wire {
  shape: number[];
  data: Float32Array;
}

export interface BackendInfo {
  label: string;
  executionProviders: string[];
  webGpuAdapter?: boolean;
  crossOriginIsolated: boolean;
  ortVersion: string;
}

export interface TrainSetup {
  data: string;
  schedule: string;
  batch: number;
  lr: number;
  seed?: number;
}
export interface TrainTick {
  step: number;
  totalSteps: number;
  losses: number[];
  rate: number;
  running: boolean;
  lr: number;
  finished: boolean;
}
export interface SampleRun {
  frames: Wire[];
  nfe: number;
  seconds: number;
  modelStep: number;
  data: Wire;
}
export interface ScoreField {
  grid: Wire;
  score: Wire;
  xt: Wire;
  modelStep: number;
  t: number;
}
export interface CompareCell {
  name: string;
  steps: number;
  nfe: number;
  x: Wire;
  mmd?: number;
  error?: string;
}
export interface CompareStart {
  data?: Wire;
  floor?: number;
  names: string[];
}
export interface DigitsInfo {
  step: number | string;
  nullClass: number | null;
  weightsBytes: number;
  provenance: string;
}
export interface DigitRunWire {
  x: Wire;
  xt: Wire[];
  x0: (Wire | null)[];
  timesteps: number[];
  nfe: number;
  seconds: number;
}
export interface InpaintRun extends DigitRunWire {
  probs: number[];
}

/** Names and defaults the page fills its selects with (answered before the engine is up). */
export interface Hello {
  T: number;
  toy2dNames: string[];
  schedules: string[];
  schedulerNames: string[];
  recipe: { batchSize: number; lr: number; steps: number; sampler: { scheduler: string; steps: number } };
}
export interface ForwardView {
  xt: Wire;
  abar: number;
  image: boolean;
}

/** Request name -> [arguments, result]. */
export interface Api {
  hello: [{ baseUrl: string }, Hello];
  'forward.curve': [{ schedule: string }, { abar: Float32Array }];
  'forward.view': [{ data: string; schedule: string; t: number }, ForwardView];
  init: [{ wasmPaths: string; preferWebGpu: boolean }, BackendInfo];
  'train.create': [TrainSetup, { seconds: number; totalSteps: number }];
  'train.play': [{ maxSteps?: number }, TrainTick];
  'train.pause': [Record<string, never>, TrainTick];
  'train.sample': [{ scheduler: string; steps: number; n: number; seed: number }, SampleRun];
  'train.score': [{ t: number }, ScoreField];
  'train.compare': [{ budget: number; n: number; names: string[] }, { cells: CompareCell[]; floor: number }];
  'digits.load': [Record<string, never>, DigitsInfo];
  'digits.sample': [{ labels: number[]; w: number; scheduler: string; steps: number; seed: number }, DigitRunWire];
  'digits.compare': [{ budget: number; labels: number[]; w: number; names: string[] }, { cells: CompareCell[] }];
  'digits.inpaint': [
    { image: Wire; known: Wire; label: number | null; w: number; steps: number; seed: number },
    InpaintRun,
  ];
  classify: [{ images: Wire }, { probs: number[][] }];
}
export type Op = keyof Api;

/** Page -> worker. */
export interface Request {
  id: number;
  op: Op;
  args: unknown;
}
/** Worker -> page: a result, an error, progress of a request, or an event (live training ticks). */
export type Reply =
  | { id: number; kind: 'result'; value: unknown }
  | { id: number; kind: 'error'; message: string }
  | { id: number; kind: 'progress'; value: unknown }
  | { id: 0; kind: 'event'; name: 'tick'; value: TrainTick }
  | { id: 0; kind: 'event'; name: 'live'; value: SampleRun };
