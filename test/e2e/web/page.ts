/**
 * Shared by the browser tests: the Chromium they drive, a production build of the playground served
 * by `vite preview`, and the `window.playground` handle the page exposes (web/src/main.ts) as far as
 * the tests read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { PreviewServer } from 'vite';

declare global {
  interface Window {
    playground?: {
      ready: boolean;
      backend: string;
      interactiveMs: number;
      readyMs: number;
      twoD: { step: number; losses: number[]; liveDraws: number; scoreDraws: number };
      digits: { lastRun: { x: { data: Float32Array } } | null; gridRuns: number };
      draw: {
        ink: Float32Array;
        unknown: () => Uint8Array;
        lastResult: { x: { data: Float32Array }; probs: number[] } | null;
      };
    };
  }
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** false when Chromium is there, else why the browser tests skip. */
export const noChromium: false | string = fs.existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`;

/** Flags this sandbox needs: headless, as root, no network beyond localhost, no background services. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Build the playground into `outDir` and serve it with `vite preview` (COOP/COEP, precompressed files). */
export async function buildAndServe(outDir: string, port: number): Promise<{ server: PreviewServer; url: string }> {
  const { build, preview } = await import('vite');
  const configFile = path.join(ROOT, 'web/vite.config.ts');
  await build({ configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({
    configFile,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port, strictPort: false },
  });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview gave no local URL');
  return { server, url };
}

export interface Ink {
  ink: number;
  blue: number;
  bright: number;
  dark: number;
  colors: number;
  w: number;
  h: number;
}

/** Pixel statistics of a canvas: non-white share, blue-ish samples, bright/dark grey, distinct colours. */
export async function canvasInk(page: Page, selector: string): Promise<Ink> {
  return page.$eval(selector, (el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let ink = 0,
      blue = 0,
      bright = 0,
      dark = 0;
    const colors = new Set<number>();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) ink++;
      if (d[i + 2] > 150 && d[i] < 100) blue++;
      if (d[i] > 128 && d[i] === d[i + 1] && d[i + 1] === d[i + 2]) bright++;
      if (d[i] < 50 && d[i] === d[i + 1] && d[i + 1] === d[i + 2]) dark++;
      colors.add((d[i] >> 4) * 256 + (d[i + 1] >> 4) * 16 + (d[i + 2] >> 4));
    }
    const n = d.length / 4;
    return {
      ink: ink / n,
      blue: blue / n,
      bright: bright / n,
      dark: dark / n,
      colors: colors.size,
      w: c.width,
      h: c.height,
    };
  });
}
