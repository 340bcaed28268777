/**
 * The playground page: sets the engine's session backend to onnxruntime-web (served by this app,
 * no CDN), then wires the five sections. `window.playground` exposes state for the e2e test.
 */
import { setBackend, webBackend } from './lib.ts';
import { $, report } from './dom.ts';
import { loadDigits, setupForward } from './forward_view.ts';
import { setupTrain2d, type TwoDState } from './train2d.ts';
import { setupDigits, type DigitsPanel } from './digits.ts';
import { setupCompare } from './compare.ts';

declare global {
  interface Window { playground?: { ready: boolean; backend: string; twoD: TwoDState; digits: DigitsPanel } }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const status = $('backend-status');
  // WebGPU when the browser has it (?backend=wasm forces wasm); ops WebGPU lacks run on wasm.
  const preferWebGpu = params.get('backend') !== 'wasm';
  const backend = await webBackend({ wasmPaths: new URL('ort/', document.baseURI).href, preferWebGpu });
  setBackend(backend);
  const threads = crossOriginIsolated ? 'wasm threads available' : 'single-threaded wasm (page not cross-origin isolated)';
  const eps = backend.webGpuAdapter ? '[webgpu, wasm] for the digits UNet, [wasm] for the small MLP' : `[wasm]${backend.webGpuAdapter === false ? ' (no WebGPU adapter in this browser)' : ''}`;
  const label = `ONNX Runtime Web, execution providers ${eps}; ${threads}`;
  status.textContent = label;

  const digits = await loadDigits();
  const fwd = setupForward(digits);
  const twoD = setupTrain2d(fwd.schedule, () => {
    window.playground!.ready = true;
    status.textContent = `${label} · ready`;
  });
  const digitModel = setupDigits();
  setupCompare(twoD, digitModel);
  window.playground = { ready: false, backend: backend.executionProviders.join(','), twoD, digits: digitModel };
}

main().catch((e) => report(e, 'playground'));
