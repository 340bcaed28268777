/**
 * The playground page. The main thread only draws and handles controls and imports nothing from the
 * toolkit: every piece of model work (ONNX Runtime Web, tracing, training, sampling, even the forward
 * view's x_t) runs in the model worker (web/src/model_worker.ts).
 * `window.playground` exposes state for the e2e tests.
 */
import { $, report, restoreState, trackState } from './dom.ts';
import { populateForward, setupForward } from './forward_view.ts';
import { populateTrain2d, setupTrain2d, type TwoDState } from './train2d.ts';
import { populateDigits, setupDigits, type DigitsPanel } from './digits.ts';
import { populateDraw, setupDraw, type DrawPanel } from './draw.ts';
import { setupCompare } from './compare.ts';
import { ModelWorker } from './worker_client.ts';

declare global {
  interface Window {
    playground?: {
      ready: boolean;
      backend: string;
      interactiveMs: number;
      readyMs: number;
      twoD: TwoDState;
      digits: DigitsPanel;
      draw: DrawPanel;
      worker: ModelWorker;
    };
  }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const status = $('backend-status');
  const loading = $('loading');
  const loadingText = $('loading-text');
  // The worker starts loading ONNX Runtime at once; the page is usable (section 1) meanwhile.
  const worker = new ModelWorker();
  const init = worker.call('init', {
    wasmPaths: new URL('ort/', document.baseURI).href,
    preferWebGpu: params.get('backend') !== 'wasm',
  });

  const hello = await worker.call('hello', { baseUrl: document.baseURI });
  populateForward(hello);
  populateTrain2d(hello);
  populateDigits(hello);
  populateDraw();
  $('recipe-sampler').textContent = `${hello.recipe.sampler.scheduler}, ${hello.recipe.sampler.steps} steps`;
  trackState();
  restoreState(params);
  const fwd = setupForward(worker, hello);
  await fwd.draw();
  const twoD = setupTrain2d(worker, hello, fwd.schedule);
  const digits = setupDigits(worker);
  const draw = setupDraw(worker, digits);
  setupCompare(worker, twoD.state);
  const pg = {
    ready: false,
    backend: '',
    interactiveMs: performance.now(),
    readyMs: NaN,
    twoD: twoD.state,
    digits,
    draw,
    worker,
  };
  window.playground = pg;

  try {
    loadingText.textContent = 'Loading the model engine (ONNX Runtime, about 5 MB)… Section 1 already works.';
    const info = await init;
    pg.backend = info.executionProviders.join(',');
    status.textContent = info.label;
    $('footer-ort').textContent = `onnxruntime-web ${info.ortVersion}`;
    for (const id of ['digits-run', 'digits-grid-run']) $<HTMLButtonElement>(id).disabled = false;
    loadingText.textContent = 'Preparing the 2-D model (tracing and compiling its training step)…';
    await twoD.create();
    pg.readyMs = performance.now();
    pg.ready = true;
    loadingText.textContent = `Ready in ${(pg.readyMs / 1000).toFixed(1)} s.`;
    loading.classList.add('done');
  } catch (e) {
    loading.classList.add('failed');
    loadingText.textContent = `The model engine did not start: ${e instanceof Error ? e.message : String(e)}`;
    throw e;
  }
}

main().catch((e) => report(e, 'playground'));
