/**
 * `--scheduler lcm` / `--scheduler cm-stochastic` on a model folder's training config: the aliases build
 * diffusers' LCMScheduler / CMStochasticIterativeScheduler by the from_config swap, and the sampling loop
 * (`generate`) runs LCM with a VP eps network unchanged. Reference (closed form, float64): for data N(0, s^2) the
 * exact eps network is E[n | x_t] = sqrt(1 - abar) x_t / v_t, v_t = abar s^2 + 1 - abar, so an LCM step maps a
 * sample of variance V to denoised = k x_t with k = c_out sqrt(abar) s^2 / v_t + c_skip (Luo et al. 2023's
 * c_skip, c_out with timestep scaling 10, sigma_data 0.5), variance k^2 V, then re-noises to
 * abar' k^2 V + 1 - abar'. The sample variance must follow that recursion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Philox, type NDArray } from '../../src/engine/index.ts';
import { DDPMScheduler } from '../../src/samplers/ddpm.ts';
import { LCMScheduler } from '../../src/samplers/lcm.ts';
import { CMStochasticIterativeScheduler } from '../../src/samplers/cm_stochastic_iterative.ts';
import { adaptModelToScheduler } from '../../src/pipelines/formulation.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { generate, type AsyncModelFn } from '../../src/pipelines/generate.ts';

// beta keys given explicitly: keys a config only has by default are not carried by the from_config swap (diffusers'
// _use_default_values), and LCM's own default is Stable Diffusion's scaled_linear table
const trainingConfig = new DDPMScheduler({
  clip_sample: false,
  beta_schedule: 'linear',
  beta_start: 0.0001,
  beta_end: 0.02,
}).toConfig();

/** The DDPM linear table in float64 (beta from 1e-4 to 0.02 over 1000 steps). */
const abar: number[] = [];
{
  let p = 1;
  for (let i = 0; i < 1000; i++) {
    p *= 1 - (0.0001 + ((0.02 - 0.0001) * i) / 999);
    abar.push(p);
  }
}
const S = 0.6;
const epsNet: AsyncModelFn = async (x, t) => {
  const ab = abar[t[0]];
  const k = Math.sqrt(1 - ab) / (ab * S * S + 1 - ab);
  return x.map((v) => k * v);
};

test('the lcm alias builds LCMScheduler on the model table, and generate follows the closed-form variance', async () => {
  const sched = samplingScheduler('lcm', trainingConfig);
  assert.ok(sched instanceof LCMScheduler);
  const ddpm = new DDPMScheduler(trainingConfig);
  assert.deepEqual(Array.from(sched.alphasCumprod), Array.from(ddpm.alphasCumprod), 'the model beta table');
  assert.equal(adaptModelToScheduler(epsNet, trainingConfig, sched), epsNet, 'same table and prediction type');
  const x = await generate(epsNet, sched, { shape: [8000, 2], steps: 4, generator: new Philox(3) });
  assertLcmVariance(x, Array.from(sched.timesteps));
});

test('generate({ timesteps }) runs a custom LCM schedule (diffusers timesteps=) and follows the closed-form variance', async () => {
  const sched = samplingScheduler('lcm', trainingConfig);
  const timesteps = [999, 759, 499, 259]; // the custom schedule of diffusers' LCM docs
  const x = await generate(epsNet, sched, { shape: [8000, 2], steps: 1, timesteps, generator: new Philox(4) });
  assert.deepEqual(Array.from(sched.timesteps), timesteps, 'the loop ran the given timesteps, not steps = 1');
  assertLcmVariance(x, timesteps);
});

test("generate({ timesteps }) on a scheduler without custom timesteps fails with the scheduler's one-line error", async () => {
  const sched = samplingScheduler('unipc', trainingConfig);
  await assert.rejects(
    generate(epsNet, sched, { shape: [4, 2], steps: 2, timesteps: [900, 100], generator: new Philox(0) }),
    /UniPCMultistepScheduler.*custom timesteps/,
  );
});

/** The sample std after an LCM loop over `timesteps` equals the closed-form recursion's (2% at n = 8000). */
function assertLcmVariance(x: NDArray, timesteps: number[]): void {
  let V = 1;
  timesteps.forEach((t, i) => {
    const ab = abar[t];
    const st = 10 * t;
    const cSkip = 0.25 / (st * st + 0.25),
      cOut = st / Math.sqrt(st * st + 0.25);
    const k = (cOut * Math.sqrt(ab) * S * S) / (ab * S * S + 1 - ab) + cSkip;
    V = k * k * V;
    if (i < timesteps.length - 1) {
      const abn = abar[timesteps[i + 1]];
      V = abn * V + 1 - abn;
    }
  });
  let q = 0;
  for (const v of x.data) q += v * v;
  const std = Math.sqrt(q / x.size);
  assert.ok(Math.abs(std / Math.sqrt(V) - 1) < 0.02, `std ${std}, closed form ${Math.sqrt(V)}`);
}

test('the cm-stochastic alias builds CMStochasticIterativeScheduler', () => {
  const sched = samplingScheduler('cm-stochastic', trainingConfig);
  assert.ok(sched instanceof CMStochasticIterativeScheduler);
  assert.equal(sched.className, 'CMStochasticIterativeScheduler');
  // on a VP model: the noise range of its beta table, sqrt((1 - abar) / abar) at t = 0 and T - 1
  const ddpm = new DDPMScheduler(trainingConfig);
  const ab0 = ddpm.alphasCumprod[0],
    abT = ddpm.alphasCumprod[999];
  assert.ok(Math.abs(sched.config.sigma_min / Math.sqrt((1 - ab0) / ab0) - 1) < 1e-6, `${sched.config.sigma_min}`);
  assert.ok(Math.abs(sched.config.sigma_max / Math.sqrt((1 - abT) / abT) - 1) < 1e-6, `${sched.config.sigma_max}`);
});
