/**
 * End-to-end test of the browser playground (web/): builds it with Vite, serves the build with
 * `vite preview`, drives Debian's Chromium with playwright-core, and checks what a user sees:
 * the page loads without console errors, live training of mlp-2d makes the loss fall, sampling and
 * the sampler comparison draw non-empty canvases, and the shipped unet-s checkpoint draws digits.
 * Screenshots go to tmp/web-screenshots/ (git-ignored) — look at them after a change.
 *
 * Needs /usr/bin/chromium (or $CHROMIUM_PATH); skipped with a message without it (.ci/run installs it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS, noChromium } from './page.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(root, 'tmp/web-screenshots');
const OUT_DIR = path.join(root, 'tmp/web-e2e/dist');
const skip = noChromium;

/** Fraction of pixels of a canvas that differ from white, and of those that are "blue" samples. */
async function canvasInk(page: Page, selector: string): Promise<{ ink: number; blue: number; bright: number; dark: number; w: number; h: number }> {
  return page.$eval(selector, (el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let ink = 0, blue = 0, bright = 0, dark = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) ink++;
      if (d[i + 2] > 150 && d[i] < 100) blue++;
      if (d[i] > 128 && d[i] === d[i + 1] && d[i + 1] === d[i + 2]) bright++;
      if (d[i] < 50 && d[i] === d[i + 1] && d[i + 1] === d[i + 2]) dark++;
    }
    const n = d.length / 4;
    return { ink: ink / n, blue: blue / n, bright: bright / n, dark: dark / n, w: c.width, h: c.height };
  });
}

describe('browser playground (web/)', { skip, timeout: 300_000 }, () => {
  let server: PreviewServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    const { build, preview } = await import('vite');
    const configFile = path.join(root, 'web/vite.config.ts');
    await build({ configFile, logLevel: 'warn', build: { outDir: OUT_DIR, emptyOutDir: true } });
    server = await preview({ configFile, logLevel: 'warn', build: { outDir: OUT_DIR }, preview: { host: '127.0.0.1', port: 4179, strictPort: false } });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
    const url = server.resolvedUrls?.local[0];
    assert.ok(url, 'vite preview gave no local URL');
    await page.goto(url);
  });

  after(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
  });

  it('loads without console errors, on onnxruntime-web', async () => {
    await page.waitForFunction(() => window.playground?.ready === true, undefined, { timeout: 60_000 });
    const status = await page.textContent('#backend-status');
    assert.match(status ?? '', /ONNX Runtime Web, execution providers \[wasm\]/);
    const fwd = await canvasInk(page, '#fwd-canvas');
    assert.ok(fwd.blue > 0.005, `forward-process scatter looks empty (${JSON.stringify(fwd)})`);
    await page.fill('#fwd-t', '300');
    await page.dispatchEvent('#fwd-t', 'input');
    assert.match((await page.textContent('#fwd-caption')) ?? '', /^t = 300: ᾱ = 0\.\d+/);
    await page.screenshot({ path: path.join(SHOTS, '1-loaded.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  it('live training of mlp-2d makes the loss fall', async () => {
    await page.click('#train-toggle');
    await page.waitForFunction(() => Number(document.getElementById('train-status')?.dataset.steps) >= 600, undefined, { timeout: 120_000 });
    await page.click('#train-toggle'); // pause
    await page.waitForTimeout(300);
    const losses = await page.evaluate(() => window.playground!.twoD.trainer!.losses.slice());
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(losses.slice(0, 50)), last = mean(losses.slice(-100));
    assert.ok(losses.every(Number.isFinite), 'a loss was not finite');
    assert.ok(last < 0.75 * first, `loss did not fall: first 50 steps ${first.toFixed(3)}, last 100 steps ${last.toFixed(3)}`);
    await page.locator('#train').screenshot({ path: path.join(SHOTS, '2-training.png') });
    const score = await canvasInk(page, '#score-canvas');
    assert.ok(score.ink > 0.01, `score field looks empty (${JSON.stringify(score)})`);
    assert.deepEqual(errors, []);
  });

  it('sampling draws the reverse trajectories', async () => {
    await page.selectOption('#sample-scheduler', 'dpmsolver++');
    await page.fill('#sample-steps', '20');
    await page.click('#sample-run');
    await page.waitForFunction(() => document.getElementById('sample-canvas')?.dataset.drawn === '1', undefined, { timeout: 60_000 });
    const ink = await canvasInk(page, '#sample-canvas');
    assert.ok(ink.blue > 0.01, `sample canvas has too few sample pixels (${JSON.stringify(ink)})`);
    assert.match((await page.textContent('#sample-caption')) ?? '', /20\/20 · 20 model evaluations/);
    await page.fill('#score-t', '50');
    await page.dispatchEvent('#score-t', 'input');
    await page.waitForTimeout(500);
    await page.locator('#sample').screenshot({ path: path.join(SHOTS, '3-sampling.png') });
    assert.deepEqual(errors, []);
  });

  it('the shipped unet-s checkpoint samples digits with guidance', async () => {
    await page.selectOption('#digits-class', 'all');
    await page.selectOption('#digits-n', '1');
    await page.fill('#digits-steps', '10');
    await page.click('#digits-run');
    await page.waitForFunction(() => document.getElementById('digits-canvas')?.dataset.drawn === '1', undefined, { timeout: 150_000 });
    const ink = await canvasInk(page, '#digits-canvas');
    assert.equal(ink.w, 10 * (28 * 3 + 2) - 2, 'expected one row of 10 digits');
    // MNIST-like: mostly black background with some bright strokes (pure noise has neither).
    assert.ok(ink.bright > 0.03 && ink.bright < 0.5 && ink.dark > 0.4, `digit images do not look like strokes on black (${JSON.stringify(ink)})`);
    await page.locator('#digits').screenshot({ path: path.join(SHOTS, '4-digits.png') });
    assert.deepEqual(errors, []);
  });

  it('compares samplers at equal NFE', async () => {
    await page.selectOption('#compare-model', '2d');
    await page.selectOption('#compare-nfe', '10');
    await page.click('#compare-run');
    await page.waitForFunction(() => !((document.getElementById('compare-run') as HTMLButtonElement).disabled), undefined, { timeout: 120_000 });
    const captions = await page.$$eval('#compare-grid figcaption', (els) => els.map((e) => e.textContent ?? ''));
    assert.ok(captions.length >= 10, `expected a panel per sampler, got ${captions.length}`);
    for (const c of captions) assert.match(c, /NFE (10|9|8)\b|no step count fits/, c);
    const heun = captions.find((c) => c.startsWith('heun:'));
    assert.match(heun ?? '', /^heun: 5 steps, NFE 9/); // Heun: 2 model calls per step but the last
    const drawn = await page.$$eval('#compare-grid canvas', (els) => els.filter((e) => (e as HTMLCanvasElement).dataset.drawn === '1').length);
    assert.ok(drawn >= 10, `only ${drawn} comparison canvases drawn`);
    await page.locator('#compare').screenshot({ path: path.join(SHOTS, '5-compare.png') });
    assert.deepEqual(errors, []);
  });
});
