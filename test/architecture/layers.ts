/**
 * The layer rule of src/ (docs/architecture.md): which folder may import which. Used by
 * layers.test.ts on the real tree and by test/e2e/gates.test.ts on a sandbox with a bad import.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Layer -> the layers it may import (besides itself). */
export const ALLOWED: Record<string, readonly string[]> = {
  engine: [],
  nn: ['engine'],
  io: ['engine'],
  schedules: ['engine'],
  models: ['engine', 'nn'],
  diffusion: ['engine', 'schedules'],
  data: ['engine', 'io'],
  samplers: ['engine', 'schedules', 'diffusion'],
  folders: ['engine', 'nn', 'io', 'models', 'schedules', 'samplers'],
  pipelines: ['engine', 'nn', 'io', 'models', 'schedules', 'diffusion', 'samplers', 'data', 'folders'],
  training: ['engine', 'nn', 'io', 'models', 'schedules', 'diffusion', 'samplers', 'data', 'folders', 'pipelines'],
  eval: ['engine', 'nn', 'io', 'models', 'schedules', 'diffusion', 'samplers', 'data', 'folders', 'pipelines'],
  api: [
    'engine',
    'nn',
    'io',
    'models',
    'schedules',
    'diffusion',
    'samplers',
    'data',
    'folders',
    'pipelines',
    'training',
    'eval',
  ],
  cli: [
    'engine',
    'nn',
    'io',
    'models',
    'schedules',
    'diffusion',
    'samplers',
    'data',
    'folders',
    'pipelines',
    'training',
    'eval',
    'api',
  ],
};

export interface Edge {
  file: string;
  spec: string;
  layer: string;
  target: string;
}

export function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Static and dynamic imports of relative modules (type-only imports count: they are still a dependency). */
export function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g))
    out.push(m[1] ?? m[2]!);
  return out;
}

export function layerOf(src: string, file: string): string | null {
  const rel = path.relative(src, file).split(path.sep);
  return rel.length > 1 ? rel[0]! : null;
}

export function edges(src: string): Edge[] {
  const out: Edge[] = [];
  for (const file of tsFiles(src)) {
    const layer = layerOf(src, file);
    if (!layer) continue; // src/index.ts, src/web.ts: the public entry points
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = layerOf(src, path.resolve(path.dirname(file), spec));
      if (target && target !== layer) out.push({ file: path.relative(src, file), spec, layer, target });
    }
  }
  return out;
}

/**
 * Inside eval/: metrics (pure measures on arrays and model functions) below plots (pictures of results)
 * below runs (orchestration: sampling a model folder, sweeps, the CLI's reports).
 */
export const EVAL_SUBLAYERS: Record<string, readonly string[]> = {
  metrics: [],
  plots: ['metrics'],
  runs: ['metrics', 'plots'],
};

function evalSublayerViolations(src: string): string[] {
  const out: string[] = [];
  const evalDir = path.join(src, 'eval');
  if (!fs.existsSync(evalDir)) return out;
  for (const file of tsFiles(evalDir)) {
    const from = path.relative(evalDir, file).split(path.sep);
    if (from.length < 2) continue;
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const to = path.relative(evalDir, path.resolve(path.dirname(file), spec)).split(path.sep);
      if (to.length < 2 || to[0]!.startsWith('..') || to[0] === from[0]) continue;
      if (!(EVAL_SUBLAYERS[from[0]!] ?? []).includes(to[0]!)) {
        out.push(`src/eval/${from.join('/')} (eval/${from[0]}) imports '${spec}' (eval/${to[0]})`);
      }
    }
  }
  return out;
}

/** Imports that bend the rule, as readable lines. */
export function violations(src: string): string[] {
  return evalSublayerViolations(src).concat(
    edges(src)
      .filter((e) => !(ALLOWED[e.layer] ?? []).includes(e.target))
      .map((e) => `src/${e.file} (${e.layer}) imports '${e.spec}' (${e.target})`),
  );
}
