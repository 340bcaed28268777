#!/usr/bin/env node
// The `diffuse` command. The installed package runs the compiled CLI (dist/). A source checkout runs
// the TypeScript sources through tsx (a development dependency), so it never runs a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
let tsx = null;
if (existsSync(source)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    // no tsx (a production install of a checkout): use the build
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error('diffuse: no build found (dist/); run `npm run build` first');
  process.exit(1);
}
