// Builds the package: ESM JavaScript + .d.ts from src/ into dist/ (tsc), plus the files src/ reads at
// run time (the MNIST classifier's weights). Run by `npm run build` and by `npm pack` (prepack).
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

rmSync('dist', { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

// Non-TypeScript files under src/ (assets) go beside the compiled modules that read them.
function assets(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return assets(p);
    return n.endsWith('.ts') ? [] : [p];
  });
}
for (const file of assets('src')) cpSync(file, join('dist', relative('src', file)));
