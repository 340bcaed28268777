/**
 * Load timings of the playground's production build: builds web/ (unless --no-build), serves it with
 * `vite preview` (precompressed files, COOP/COEP) and opens it in Debian's Chromium `--runs` times
 * with a fresh cache. Per run: bytes transferred until the engine is ready, when the page became
 * interactive (its own script ran: section 1 works, every control responds) and when the engine was
 * ready (ONNX Runtime started in the worker and the 2-D train step compiled). Prints a Markdown table.
 *
 *   npx tsx web/tools/measure_load.ts [--runs 3] [--no-build] [--out tmp/web-measure/dist]
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, preview } from 'vite';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: 'tmp/web-measure/dist' },
  },
});
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs ${values.runs}: expected a positive integer`);
const outDir = path.resolve(root, values.out!);
const configFile = path.join(root, 'web/vite.config.ts');
if (!values['no-build']) await build({ configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
const server = await preview({
  configFile,
  logLevel: 'error',
  build: { outDir },
  preview: { host: '127.0.0.1', port: 4191, strictPort: false },
});
const url = server.resolvedUrls!.local[0];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const rows: string[] = [];
try {
  for (let r = 0; r < runs; r++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let bytes = 0;
    page.on('requestfinished', async (req) => {
      const s = await req.sizes().catch(() => null);
      if (s) bytes += s.responseBodySize + s.responseHeadersSize;
    });
    await page.goto(url);
    await page.waitForFunction(
      () => (window as unknown as { playground?: { ready: boolean } }).playground?.ready === true,
      undefined,
      { timeout: 180_000 },
    );
    await page.waitForTimeout(300);
    const t = await page.evaluate(() => {
      const pg = (window as unknown as { playground: { interactiveMs: number; readyMs: number } }).playground;
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        dcl: nav.domContentLoadedEventEnd,
        interactive: pg.interactiveMs,
        ready: pg.readyMs,
      };
    });
    rows.push(
      `| ${r + 1} | ${(bytes / 1e6).toFixed(2)} MB | ${t.fcp.toFixed(0)} ms | ${t.interactive.toFixed(0)} ms | ${(t.ready / 1000).toFixed(1)} s | ${os.loadavg()[0].toFixed(1)} |`,
    );
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`Chromium ${browser.version()}, ${os.cpus().length} cores, vite preview of the production build\n`);
console.log('| run | transferred | first paint | page interactive | engine ready | load average |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
