/**
 * Measurement for docs/editing.md: DDIM inversion of held-out MNIST digits with the shipped unet-s
 * (null class = unconditional): invert with DDIMInverseScheduler, decode with DDIM (eta 0), both with n
 * steps, and report the reconstruction MSE (pixels in [-1, 1]) for each n.
 *
 * Run: nice -n 10 npx tsx tools/editing/mnist_invert.ts --n 100 --steps 10,20,50,100 [--out tmp/invert.json]
 */
import fs from 'node:fs';
import { NDArray } from '../../src/engine/index.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { ddimDecode, ddimInvert, reconstructionMse } from '../../src/pipelines/invert.ts';
import { mnistSplit } from '../../src/data/mnist.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('n', '100'));
const stepsList = arg('steps', '10,20,50,100').split(',').map(Number);
const m = loadPipelineFolder('web/public/models/unet-s-mnist');
const model = denoiserFor(m.model, m.weights);
const x0 = new NDArray([N, 1, 28, 28], mnistSplit().heldOut.images.data.slice(0, N * 784));
const classLabels = new Array(N).fill(m.info!.nullClass!);
const rows: Record<string, number>[] = [];
for (const steps of stepsList) {
  const t0 = performance.now();
  const z = await ddimInvert(model, m.schedulerConfig, x0, { steps, classLabels });
  const back = await ddimDecode(model, m.schedulerConfig, z, { steps, classLabels });
  let zz = 0;
  for (const v of z.data) zz += v * v;
  const row = {
    steps,
    n: N,
    mse: reconstructionMse(x0, back),
    noise_second_moment: zz / z.size,
    seconds: (performance.now() - t0) / 1000,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const out = arg('out', '');
if (out) fs.writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
