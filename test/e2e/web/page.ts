/**
 * Shared by the browser tests: the Chromium they drive, and the `window.playground` handle the page
 * exposes (web/src/main.ts) as far as the tests read it.
 */
import fs from 'node:fs';

declare global {
  interface Window {
    playground?: {
      ready: boolean;
      backend: string;
      twoD: { trainer: { losses: number[] } | null };
      digits: { lastRun: { x: { data: Float32Array } } | null };
    };
  }
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** false when Chromium is there, else why the browser tests skip. */
export const noChromium: false | string = fs.existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`;

/** Flags this sandbox needs: headless, as root, no network beyond localhost, no background services. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];
