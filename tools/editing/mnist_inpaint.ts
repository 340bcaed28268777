/**
 * Measurement for docs/editing.md: MNIST inpainting with the shipped class-conditional unet-s
 * (web/public/models/unet-s-mnist, used unconditionally through its null class). The lower half of
 * held-out digits (the project classifier's held-out split) is masked and filled by
 *   - the replacement method (DDPM, --steps),
 *   - RePaint (RePaintScheduler, --steps, jumps --jump-length x --jump-n-sample, eta 1 as in the paper's DDPM),
 *   - the noise-fill baseline;
 * reported: share of completions the project MNIST classifier assigns to the digit's true class, and the
 * mean squared error over the masked pixels (in [-1, 1] units).
 *
 * Run: nice -n 10 npx tsx tools/editing/mnist_inpaint.ts --n 200 --steps 50 [--methods replace,repaint,noise] [--out tmp/inpaint.json]
 */
import fs from 'node:fs';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { schedulerWithOverrides } from '../../src/pipelines/scheduler_choice.ts';
import { inpaint, maskedMse, noiseFill, repaint } from '../../src/pipelines/inpaint.ts';
import { broadcastMask, rectangleMask } from '../../src/pipelines/mask.ts';
import { loadMnistClassifier } from '../../src/eval/metrics/mnist_classifier.ts';
import { mnistSplit } from '../../src/data/mnist.ts';
import { writePng } from '../../src/io/png.ts';
import type { RePaintScheduler } from '../../src/samplers/repaint.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('n', '200')),
  steps = Number(arg('steps', '50')),
  batch = Number(arg('batch', '100'));
const jl = Number(arg('jump-length', '10')),
  jn = Number(arg('jump-n-sample', '10'));
const methods = arg('methods', 'noise,replace,repaint').split(',');
const out = arg('out', '');
const grid = arg('grid', '');

const m = loadPipelineFolder('web/public/models/unet-s-mnist');
const model = denoiserFor(m.model, m.weights);
const nullClass = m.info!.nullClass!;
const { heldOut } = mnistSplit();
const truth = new NDArray([N, 1, 28, 28], heldOut.images.data.slice(0, N * 784));
const labels = Array.from(heldOut.labels.subarray(0, N));
const mask1 = rectangleMask([1, 28, 28], 'lower-half');
const clf = await loadMnistClassifier();
const results: Record<string, unknown>[] = [];
const shown: NDArray[] = [];

async function report(name: string, x: NDArray, seconds: number, extra: Record<string, unknown> = {}) {
  const { probs } = await clf.run(x);
  const r = {
    method: name,
    n: N,
    agreement: clf.accuracy(probs, labels),
    masked_mse: maskedMse(x, truth, mask1),
    seconds,
    ...extra,
  };
  results.push(r);
  shown.push(new NDArray([8, 1, 28, 28], x.data.slice(0, 8 * 784)));
  console.log(JSON.stringify(r));
}

{
  const { probs } = await clf.run(truth);
  console.log(JSON.stringify({ method: 'original (unmasked)', n: N, agreement: clf.accuracy(probs, labels) }));
  results.push({ method: 'original (unmasked)', n: N, agreement: clf.accuracy(probs, labels), masked_mse: 0 });
  shown.push(new NDArray([8, 1, 28, 28], truth.data.slice(0, 8 * 784)));
}
for (const method of methods) {
  const t0 = performance.now();
  const x = new NDArray([N, 1, 28, 28]);
  for (let s = 0; s < N; s += batch) {
    const B = Math.min(batch, N - s);
    const known = new NDArray([B, 1, 28, 28], truth.data.slice(s * 784, (s + B) * 784));
    const mask = broadcastMask(mask1, known.shape);
    const g = new Philox(1234).fold(s);
    const o = { known, mask, steps, generator: g, classLabels: new Array(B).fill(nullClass) };
    let y: NDArray;
    if (method === 'noise') y = noiseFill(known, mask, g);
    else if (method === 'replace')
      y = await inpaint(model, schedulerWithOverrides('DDPMScheduler', m.schedulerConfig, {}), o);
    else if (method === 'repaint')
      y = await repaint(
        model,
        schedulerWithOverrides('RePaintScheduler', m.schedulerConfig, { clip_sample: true }) as RePaintScheduler,
        { ...o, jumpLength: jl, jumpNSample: jn, eta: 1 },
      );
    else throw new Error(`--methods: unknown method ${method}`);
    x.data.set(y.data, s * 784);
    process.stderr.write(`${method}: ${s + B}/${N} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  await report(
    method === 'noise'
      ? 'noise fill'
      : method === 'replace'
        ? `replacement (DDPM, ${steps} steps)`
        : `RePaint (${steps} steps, jumps ${jl}x${jn}, eta 1)`,
    x,
    (performance.now() - t0) / 1000,
  );
}
if (out) fs.writeFileSync(out, `${JSON.stringify({ steps, jump_length: jl, jump_n_sample: jn, results }, null, 2)}\n`);
if (grid) {
  const all = new NDArray([shown.length * 8, 1, 28, 28]);
  shown.forEach((a, i) => all.data.set(a.data, i * 8 * 784));
  writePng(
    grid,
    all.map((v) => Math.max(-1, Math.min(1, v))),
    { range: '[-1,1]', nrow: 8 },
  );
}
