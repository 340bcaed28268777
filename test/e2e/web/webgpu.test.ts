/**
 * The playground's WebGPU path, on Chromium's software WebGPU adapter (SwiftShader): the digits UNet
 * runs on the WebGPU execution provider and gives the same image as the wasm one (`?backend=wasm`),
 * for one DDIM step with classifier-free guidance. SwiftShader is slow, hence a single step.
 *
 * Skipped, with a message, without /usr/bin/chromium (or $CHROMIUM_PATH) or without a WebGPU adapter.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS, buildAndServe, noChromium } from './page.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const OUT_DIR = path.join(root, 'tmp/web-e2e/dist-webgpu');
const skip = noChromium;
const ARGS = [...CHROMIUM_ARGS, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

async function oneDigit(page: Page, url: string): Promise<{ x: number[]; backend: string }> {
  await page.goto(url);
  await page.waitForFunction(() => window.playground?.ready === true, undefined, { timeout: 60_000 });
  await page.selectOption('#digits-class', '3');
  await page.selectOption('#digits-n', '1');
  await page.fill('#digits-steps', '1');
  await page.click('#digits-run');
  await page.waitForFunction(() => document.getElementById('digits-canvas')?.dataset.drawn === '1', undefined, {
    timeout: 200_000,
  });
  return page.evaluate(() => ({
    x: Array.from(window.playground!.digits.lastRun!.x.data),
    backend: window.playground!.backend,
  }));
}

describe('playground on WebGPU (software adapter)', { skip, timeout: 300_000 }, () => {
  let server: PreviewServer;
  let url: string;
  let browser: Browser;
  const errors: string[] = [];

  before(async () => {
    ({ server, url } = await buildAndServe(OUT_DIR, 4189));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the digits UNet gives the same image on WebGPU as on wasm', async (t) => {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    const adapter = await page.goto(url).then(() =>
      page.evaluate(async () => {
        const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
        return gpu ? (await gpu.requestAdapter()) !== null : false;
      }),
    );
    if (!adapter) {
      t.skip('this Chromium offers no WebGPU adapter (SwiftShader)');
      return;
    }
    const gpu = await oneDigit(page, url);
    assert.equal(gpu.backend, 'webgpu,wasm');
    const wasm = await oneDigit(page, `${url}?backend=wasm`);
    assert.equal(wasm.backend, 'wasm');
    assert.equal(gpu.x.length, 784);
    let maxDiff = 0;
    gpu.x.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - wasm.x[i]));
    });
    assert.ok(maxDiff < 1e-3, `WebGPU and wasm digits differ by up to ${maxDiff}`);
    assert.deepEqual(errors, []);
  });
});
