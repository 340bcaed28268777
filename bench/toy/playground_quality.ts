/**
 * Issue 16 target 5: the playground's live 2-D training against `diffuse train`. Builds the playground,
 * opens it in Debian's Chromium (onnxruntime-web, the page's own worker and buttons), and for each toy
 * set: picks it, presses Train, waits for the recipe's 3,000 steps (live previews and the score field
 * redraw as usual), then asks the worker for 2,000 samples with the recipe's sampler and their MMD
 * ratio (`mmdRatio`, the demo's statistic; the data and fresh sets of the page's sampler comparison).
 *
 *   npx tsx bench/toy/playground_quality.ts [moons,8gaussians,...]
 *
 * Compare with `npx tsx bench/toy/quality.ts --out DIR --seeds 0` (the CLI path, native ONNX Runtime).
 */
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, ROOT, buildAndServe } from '../../test/e2e/web/page.ts';

/** What this script reads of the page's `window.playground` (web/src/main.ts). */
interface Playground {
  ready: boolean;
  backend: string;
  twoD: { dataName: string; ready: boolean; running: boolean; step: number; totalSteps: number };
  worker: {
    call: (
      type: 'train.compare',
      args: { budget: number; n: number; names: string[] },
      progress: () => void,
    ) => Promise<{ cells: { name: string; steps: number; mmd: number }[]; floor: number }>;
  };
}
const pg = () => (window as unknown as { playground: Playground }).playground;

const sets = (process.argv[2] ?? '8gaussians,moons,checkerboard,swissroll,circles').split(',');
const { server, url } = await buildAndServe(path.join(ROOT, 'tmp/playground-quality-build'), 4199);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(`(${pg})()?.ready === true`, undefined, { timeout: 180_000 });
  const recipe = (await page.textContent('#recipe-sampler')) ?? '';
  const scheduler = recipe.split(',')[0].trim();
  const steps = Number(/(\d+) steps/.exec(recipe)?.[1]);
  console.log(`backend ${await page.evaluate(`(${pg})().backend`)}; recipe sampler ${recipe}`);
  for (const name of sets) {
    await page.selectOption('#train-data', name);
    await page.waitForFunction(
      `(() => { const s = (${pg})().twoD; return s.dataName === ${JSON.stringify(name)} && s.ready && s.step === 0 &&
        !document.getElementById('train-toggle').disabled; })()`,
      undefined,
      { timeout: 120_000 },
    );
    const t0 = Date.now();
    await page.click('#train-toggle');
    await page.waitForFunction(
      `(() => { const s = (${pg})().twoD; return s.step >= s.totalSteps && !s.running; })()`,
      undefined,
      { timeout: 600_000, polling: 200 },
    );
    const seconds = (Date.now() - t0) / 1000;
    const trained = await page.evaluate(`(${pg})().twoD.step`);
    const r = (await page.evaluate(
      `(${pg})().worker.call('train.compare', { budget: ${steps}, n: 2000, names: [${JSON.stringify(scheduler)}] }, () => {})`,
    )) as Awaited<ReturnType<Playground['worker']['call']>>;
    const c = r.cells[0];
    console.log(
      `${name}: ${trained} steps in ${seconds.toFixed(1)} s; ${c.name} ${c.steps} steps: MMD² ${c.mmd.toExponential(2)}, floor ${r.floor.toExponential(2)}, ratio ${(c.mmd / r.floor).toFixed(2)}`,
    );
  }
} finally {
  await browser.close();
  await server.close();
}
