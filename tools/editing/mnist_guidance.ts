/**
 * Measurement for docs/editing.md: accuracy of generated digits (share the project MNIST classifier assigns
 * to the requested class) against the guidance scale, for classifier guidance (a noisy classifier from
 * `diffuse train-classifier`, guiding the shipped unet-s through its null class = unconditional) beside
 * classifier-free guidance on the same model (its class embedding, weight w; w = 1 is plain conditional).
 * n samples per setting, classes cycling 0..9, --scheduler (ddim default, or ddpm) with --steps steps, the same
 * seed for every setting.
 *
 * Run: nice -n 10 npx tsx tools/editing/mnist_guidance.ts --classifier tmp/clf --n 100 --steps 25 --cg 0,1,2,5,10 --cfg 1,2,4 [--scheduler ddpm] [--out tmp/guidance.json]
 */
import fs from 'node:fs';
import { Philox } from '../../src/engine/index.ts';
import { loadPipelineFolder } from '../../src/folders/index.ts';
import { denoiserFor } from '../../src/pipelines/denoiser.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { generate } from '../../src/pipelines/generate.ts';
import { classifierGuidedModel } from '../../src/pipelines/classifier_guidance.ts';
import { loadNoisyClassifier } from '../../src/pipelines/classifier_folder.ts';
import { loadMnistClassifier } from '../../src/eval/metrics/mnist_classifier.ts';
import { writePng } from '../../src/io/png.ts';
import type { BetaScheduler } from '../../src/samplers/scheduler.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg('n', '100')),
  steps = Number(arg('steps', '25'));
const cg = arg('cg', '0,1,2,5,10').split(',').filter(Boolean).map(Number);
const cfg = arg('cfg', '1,2,4').split(',').filter(Boolean).map(Number);
const gridDir = arg('grids', '');
const schedName = arg('scheduler', 'ddim');
const m = loadPipelineFolder('web/public/models/unet-s-mnist');
const model = denoiserFor(m.model, m.weights);
const nullClass = m.info!.nullClass!;
const { clf } = loadNoisyClassifier(arg('classifier', 'tmp/clf'));
const judge = await loadMnistClassifier();
const labels = Array.from({ length: N }, (_, i) => i % 10);
const rows: Record<string, unknown>[] = [];

async function measure(kind: string, scale: number) {
  const t0 = performance.now();
  const s = samplingScheduler(schedName, m.schedulerConfig, { clip_sample: true }) as BetaScheduler;
  const base = { shape: [N, 1, 28, 28], steps, generator: new Philox(2024) };
  const x =
    kind === 'classifier'
      ? await generate(
          classifierGuidedModel(model, clf, {
            alphasCumprod: s.alphasCumprod,
            classLabels: labels,
            scale,
            modelLabels: new Array(N).fill(nullClass),
          }),
          s,
          base,
        )
      : await generate(model, s, { ...base, classLabels: labels, guidanceScale: scale, nullClass });
  const { probs } = await judge.run(x.map((v) => Math.max(-1, Math.min(1, v))));
  let conf = 0;
  for (let i = 0; i < N; i++) conf += probs.data[i * 10 + labels[i]];
  const row = {
    guidance: kind,
    scale,
    n: N,
    scheduler: schedName,
    steps,
    accuracy: judge.accuracy(probs, labels),
    mean_prob_of_class: conf / N,
    seconds: (performance.now() - t0) / 1000,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  if (gridDir)
    writePng(
      `${gridDir}/${kind}-${scale}.png`,
      x.map((v) => Math.max(-1, Math.min(1, v))),
      { range: '[-1,1]', nrow: 10 },
    );
}
for (const s of cg) await measure('classifier', s);
for (const w of cfg) await measure('classifier-free', w);
const out = arg('out', '');
if (out) fs.writeFileSync(out, `${JSON.stringify(rows, null, 2)}\n`);
