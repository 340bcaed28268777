/**
 * Conformance of UNet2DModel with diffusers itself (issue 14): every folder under
 * test/fixtures/diffusers_unet2d/ was built, saved (DDPMPipeline.save_pretrained: model_index.json, unet/,
 * scheduler/, float16 weights) and run by diffusers (tools/fixtures/diffusers_unet2d.py, pinned commit). Here
 * diffuse reads each folder with its folder loader, runs the same forward pass and the same seeded 10-step
 * sampling loop (DDIM eta 0 for the VP models; the VE probability-flow ODE for the Fourier/NCSN++ models) and
 * compares: forward to 1e-5, sampling to 1e-4 (relative to max(1, max |reference|)). The fixture's float64 run
 * measures float32 sensitivity: where the float32 outputs of diffusers and diffuse differ by more than the bound,
 * both must stay within a few times diffusers' own float32-vs-float64 distance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { NDArray, compile, trace, type InputSpec, type Value } from '../../src/engine/index.ts';
import { withParams } from '../../src/nn/module.ts';
import { UNet2DModel } from '../../src/models/unet2d.ts';
import { DDIMScheduler } from '../../src/samplers/ddim.ts';
import { loadModelFolder } from '../../src/folders/model_folder.ts';
import { loadExpected, maxAbsDiff, maxAbs } from './_diffusers_unet2d.ts';

const ROOT = fileURLToPath(new URL('../fixtures/diffusers_unet2d/', import.meta.url));
const CASES = existsSync(ROOT)
  ? readdirSync(ROOT, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];

test('the conformance fixtures are present (one folder per config family)', () => {
  for (const c of [
    'ddpm_cifar10',
    'ddpm_celebahq',
    'ncsnpp',
    'diffusers_test',
    'diffusers_test_ldm',
    'class_cond',
    'options_resnet',
    'options_identity',
  ]) {
    assert.ok(
      CASES.includes(c),
      `test/fixtures/diffusers_unet2d/${c} is missing (run tools/fixtures/diffusers_unet2d.py)`,
    );
  }
});

/** A compiled forward pass of `model` with batch 2 (weights embedded). */
async function forwardFn(
  model: UNet2DModel,
  weights: Record<string, NDArray>,
  shape: number[],
  labelShape: number[] | null,
) {
  const specs: InputSpec[] = [
    { name: 'sample', shape },
    { name: 'timestep', shape: [shape[0]] },
  ];
  if (labelShape) specs.push({ name: 'class_labels', shape: labelShape });
  const g = trace((x: Value, t: Value, y?: Value) => withParams(model, weights, () => model.forward(x, t, y)), specs);
  const exe = await compile(g);
  return async (x: NDArray, t: number[] | NDArray, y: NDArray | null): Promise<NDArray> => {
    const tt = t instanceof NDArray ? t : new NDArray([shape[0]], Float32Array.from(t));
    const inputs: Record<string, NDArray> = { sample: x, timestep: tt };
    if (y) inputs.class_labels = y;
    return (await exe.run(inputs))[0];
  };
}

for (const name of CASES) {
  test(`${name}: diffusers' folder loads; forward and seeded sampling match diffusers`, async (t) => {
    const dir = path.join(ROOT, name);
    const folder = loadModelFolder(dir);
    assert.equal(folder.layout.kind, 'pipeline');
    assert.deepEqual(folder.weightsDtypes, ['F16']);
    const ex = loadExpected(dir);
    const model = UNet2DModel.fromConfig(folder.modelConfig);
    assert.equal(model.numParameters(), ex.num_parameters, "parameter count equals diffusers'");
    const x = ex.get('forward.sample');
    const labels = ex.tensors['forward.class_labels'] ? ex.get('forward.class_labels') : null;
    const run = await forwardFn(model, folder.weights, [...x.shape], labels ? [...labels.shape] : null);

    const out = await run(x, ex.get('forward.timestep'), labels);
    const ref = ex.get('forward.output');
    const fwdErr = maxAbsDiff(out, ref) / Math.max(1, maxAbs(ref));
    const fwd64 = maxAbsDiff(out, ex.get('forward.output_fp64')) / Math.max(1, maxAbs(ref));
    t.diagnostic(
      `forward: max |diffuse - diffusers| / max(1, |ref|) = ${fwdErr.toExponential(2)}; vs fp64 ${fwd64.toExponential(2)}; diffusers fp32 vs fp64 (abs) ${ex.fp32_vs_fp64.forward.toExponential(2)}`,
    );
    assert.ok(fwdErr <= 1e-5, `forward error ${fwdErr} > 1e-5`);

    // sampling
    let xs = ex.get('sampling.noise');
    if (ex.sampler === 'ddim') {
      const s = DDIMScheduler.fromConfig(folder.schedulerConfig);
      s.setTimesteps(ex.steps);
      for (const ti of s.timesteps) {
        const eps = await run(xs, [ti, ti], labels);
        xs = s.step(eps, ti, xs, { eta: 0 }).prevSample;
      }
    } else {
      const sig = Array.from(ex.get('sampling.sigmas').data);
      const f = Math.fround;
      xs = new NDArray(
        xs.shape,
        xs.data.map((v) => f(v * sig[0])),
      );
      for (let i = 0; i < sig.length; i++) {
        const s = sig[i],
          n = i + 1 < sig.length ? sig[i + 1] : 0;
        const score = await run(xs, [s, s], null);
        const c = f(f(f(f(s * s) - f(n * n))) * 0.5);
        xs = new NDArray(
          xs.shape,
          xs.data.map((v, k) => f(v + f(c * score.data[k]))),
        );
      }
    }
    const fin = ex.get('sampling.final');
    const smpErr = maxAbsDiff(xs, fin) / Math.max(1, maxAbs(fin));
    const smp64 = maxAbsDiff(xs, ex.get('sampling.final_fp64')) / Math.max(1, maxAbs(fin));
    t.diagnostic(
      `sampling: max rel diff ${smpErr.toExponential(2)}; vs fp64 ${smp64.toExponential(2)}; diffusers fp32 vs fp64 (abs) ${ex.fp32_vs_fp64.sampling.toExponential(2)}`,
    );
    if (smpErr > 1e-4)
      assert.ok(
        smp64 <= 4 * ex.fp32_vs_fp64.sampling,
        `sampling differs by ${smpErr} and by ${smp64} from the float64 reference`,
      );
    else assert.ok(smpErr <= 1e-4);
  });
}
