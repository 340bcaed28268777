/**
 * The two ONNX Runtime paths of an install, on the same workloads (`npm run bench -- runtimes`):
 * onnxruntime-node (native; the default when it installs) and onnxruntime-web's wasm build running in
 * Node.js (the fallback when onnxruntime-node's install step fails offline). Each repetition runs
 * both in fresh processes, alternating, and reports medians:
 *   - mlp-2d training: 200 steps of the compiled train step at batch 256 (steps/s);
 *   - unet-s sampling: forward passes at batch 16 (images/s).
 * The child mode (`--child <workload>`) prints one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

async function child(workload: string): Promise<void> {
  const { train, UNet2DModel, Philox } = await import('../src/index.ts');
  if (workload === 'mlp-train') {
    const data = new Philox(0).normal([4096, 2]);
    await train({ data, steps: 5, batchSize: 256 }); // warm-up: compile
    const t0 = performance.now();
    const r = await train({ data, steps: 200, batchSize: 256 });
    console.log(JSON.stringify({ rate: r.steps / ((performance.now() - t0) / 1000) }));
  } else {
    const unet = UNet2DModel.fromConfig('unet-s');
    const x = new Philox(1).normal([16, 1, 28, 28]);
    await unet.forward(x, 500);
    const n = 6,
      t0 = performance.now();
    for (let i = 0; i < n; i++) await unet.forward(x, 999 - 100 * i);
    console.log(JSON.stringify({ rate: (16 * n) / ((performance.now() - t0) / 1000) }));
  }
}

function runChild(workload: string, backend: string): number {
  const env = { ...process.env, DIFFUSE_BACKEND: backend, DIFFUSE_QUIET_BACKEND: '1' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', workload], { env, encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`runtimes bench: ${workload} on ${backend} failed: ${r.stderr.slice(-500)}`);
  return (JSON.parse(line) as { rate: number }).rate;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The markdown table of the suite. */
export async function runtimesSuite(reps: number, log: (s: string) => void): Promise<string> {
  const rows: string[] = [];
  for (const [workload, unit] of [
    ['mlp-train', 'steps/s'],
    ['unet-forward', 'images/s'],
  ] as const) {
    const native: number[] = [],
      wasm: number[] = [];
    for (let i = 0; i < reps; i++) {
      native.push(runChild(workload, 'onnxruntime-node'));
      wasm.push(runChild(workload, 'onnxruntime-web'));
      log(`${workload} rep ${i + 1}: node ${native.at(-1)!.toFixed(1)}, wasm ${wasm.at(-1)!.toFixed(1)} ${unit}`);
    }
    const n = median(native),
      w = median(wasm);
    rows.push(
      `| ${workload === 'mlp-train' ? 'mlp-2d training, batch 256' : 'unet-s sampling forward, batch 16'} | ${n.toFixed(1)} ${unit} | ${w.toFixed(1)} ${unit} | ${(n / w).toFixed(2)}x |`,
    );
  }
  return [
    '| workload | onnxruntime-node | onnxruntime-web (wasm, in Node.js) | native / wasm |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (process.argv[2] === '--child') await child(process.argv[3]!);
