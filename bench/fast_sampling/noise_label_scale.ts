// noise_label_scale 1 (diffusers / EDM) vs 250, EDM objective with sigma_data 0.5, mlp-2d 4000 steps, seeds 0 and 1.
// Run: nice npx tsx bench/fast_sampling/noise_label_scale.ts   (DATA=8gaussians by default; prints one JSON line per run)
import fs from 'node:fs';
import { train, defaultTrainConfig } from '../../src/training/trainer.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { openDataSource } from '../../src/data/data_source.ts';
import { loadTrainedModel, sampleLoaded } from '../../src/pipelines/sample_model.ts';
import { toy2d } from '../../src/data/toy2d.ts';
import { mmdRatio } from '../../src/eval/metrics/mmd_ratio.ts';
import { Philox } from '../../src/engine/index.ts';
const data = process.env.DATA ?? '8gaussians';
const ds = toy2d(data);
const ref = ds.sample(2000, new Philox(101).fold(0x5eed));
const floors = [202, 303].map((s) => ds.sample(2000, new Philox(s).fold(0x5eed)));
for (const seed of [0, 1])
  for (const scale of [1, 250]) {
    const dir = `tmp/fast-sampling-runs/label_${data}_${scale}_s${seed}`;
    fs.rmSync(dir, { recursive: true, force: true });
    const steps = 4000;
    const config = {
      ...defaultTrainConfig(),
      steps,
      batchSize: 256,
      lr: 2e-3,
      seed,
      warmupSteps: 100,
      checkpointEvery: steps,
      objective: { formulation: 'edm' as const, edm: { sigmaData: 0.5, noiseLabelScale: scale } },
    };
    const model = modelFromConfig(modelConfig('mlp-2d', { in_channels: 2, out_channels: 2 }), 'mlp-2d');
    const t0 = performance.now();
    await train({ model, data: openDataSource(data, { batchSize: 256, seed }), config, outDir: dir });
    const m = loadTrainedModel(dir);
    const r: string[] = [];
    for (const [s, n] of [
      ['edm-dpmsolver++', 20],
      ['edm-euler', 100],
    ] as const) {
      const x = await sampleLoaded(m, { scheduler: s, steps: n, n: 2000, seed: 7 });
      r.push(`${s} ${n}: ${mmdRatio(x, ref, floors).ratio.toFixed(2)}`);
    }
    console.log(
      JSON.stringify({
        data,
        seed,
        noiseLabelScale: scale,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        results: r,
      }),
    );
  }
