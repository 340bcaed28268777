/**
 * One noise rule for every stochastic scheduler step (issue 13): an explicit `varianceNoise` wins over
 * `generator` (diffusers' DPMSolverMultistepScheduler.step: `noise = variance_noise` when given, else
 * randn_tensor(generator)), a generator alone draws one standard normal of the sample's shape, neither is an
 * error naming the scheduler. Checked on one scheduler of each family that draws noise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray } from '../../src/engine/ndarray.ts';
import { TorchGenerator } from '../../src/engine/torch_generator.ts';
import {
  DDIMScheduler,
  DDPMScheduler,
  DPMSolverMultistepScheduler,
  DPMSolverSinglestepScheduler,
  EulerAncestralDiscreteScheduler,
  type Scheduler,
  type StepOptions,
} from '../../src/samplers/index.ts';

const SHAPE = [2, 3];
const x = new NDArray(SHAPE, [0.3, -1.2, 0.7, 2.0, -0.1, 0.5]);
const eps = new NDArray(SHAPE, [0.1, 0.4, -0.9, 0.2, 1.1, -0.6]);

function stepWith(make: () => Scheduler, opts: StepOptions): Float32Array {
  const s = make();
  s.setTimesteps(10);
  return s.step(eps, s.timesteps[0], x, { eta: 1, ...opts }).prevSample.data;
}

const MAKERS: Array<[string, () => Scheduler]> = [
  ['DDPMScheduler', () => DDPMScheduler.fromConfig({})],
  ['DDIMScheduler', () => DDIMScheduler.fromConfig({})],
  ['EulerAncestralDiscreteScheduler', () => EulerAncestralDiscreteScheduler.fromConfig({})],
  ['DPMSolverMultistepScheduler', () => DPMSolverMultistepScheduler.fromConfig({ algorithm_type: 'sde-dpmsolver++' })],
  [
    'DPMSolverSinglestepScheduler',
    () => DPMSolverSinglestepScheduler.fromConfig({ algorithm_type: 'sde-dpmsolver++' }),
  ],
];

for (const [name, make] of MAKERS) {
  test(`${name}: varianceNoise wins over generator; generator alone draws; neither is an error`, () => {
    const z = new NDArray(SHAPE, [1, -1, 0.5, -0.5, 2, -2]);
    const withNoise = stepWith(make, { varianceNoise: z });
    const both = stepWith(make, { varianceNoise: z, generator: new TorchGenerator(7) });
    assert.deepEqual(both, withNoise);
    const drawn = stepWith(make, { generator: new TorchGenerator(7) });
    const same = stepWith(make, { varianceNoise: new TorchGenerator(7).normal(SHAPE) });
    assert.deepEqual(drawn, same);
    assert.notDeepEqual(drawn, withNoise);
    assert.throws(
      () => stepWith(make, {}),
      new RegExp(`^Error: ${name}\\.step: .*pass \\{ generator \\} or \\{ varianceNoise \\}`),
    );
    assert.throws(
      () => stepWith(make, { varianceNoise: NDArray.ones([3, 2]) }),
      /varianceNoise has shape \[3, 2\], expected \[2, 3\]/,
    );
  });
}
