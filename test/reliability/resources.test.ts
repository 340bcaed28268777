/**
 * Resource estimates before allocating (issue 15 item 4): exact parameter counts from a config
 * (against the built model's own count, and the closed form for an MLP), refusals of the configs
 * that used to be killed or crash V8 (estimated bytes only: nothing big is allocated here), the
 * memory limit and its override, data sizes from headers, and the chunk size of sampling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MAX_LAYERS,
  ResourceLimitError,
  checkMemory,
  estimateModelResources,
  formatBytes,
  parseBytes,
  sampleChunkSize,
  samplingBytes,
  trainingBytes,
} from '../../src/models/resources.ts';
import { memoryLimit } from '../../src/models/memory_limit.ts';
import { modelConfig, modelFromConfig } from '../../src/models/registry.ts';
import { inspectDataSource } from '../../src/data/data_size.ts';

test('parameter counts: closed form for the MLP, the built model for U-Nets (extrapolated in layers_per_block)', () => {
  // mlp-2d: (2 + 64) * 128 + 128, 2 x (128 * 128 + 128), 128 * 2 + 2
  assert.equal(
    estimateModelResources(modelConfig('mlp-2d')).parameters,
    66 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2,
  );
  // [30000, 30000] hidden: (66 * 30000 + 30000) + (30000^2 + 30000) + (30000 * 2 + 2)
  assert.equal(
    estimateModelResources({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [30000, 30000] }).parameters,
    66 * 30000 + 30000 + 30000 * 30000 + 30000 + 60002,
  );
  for (const o of [
    {},
    { layers_per_block: 3 },
    { layers_per_block: 2, num_class_embeds: 11, in_channels: 3, out_channels: 3 },
  ]) {
    const c = modelConfig('unet-s', o);
    assert.equal(estimateModelResources(c).parameters, modelFromConfig(c).numParameters(), JSON.stringify(o));
  }
  assert.equal(estimateModelResources(modelConfig('unet-s')).parameters, 1_112_801); // registry.ts's documented count
  const embedded = modelConfig('mlp-2d', { input_embedding_dim: 64 } as Record<string, unknown>);
  assert.equal(estimateModelResources(embedded).parameters, modelFromConfig(embedded).numParameters());
});

test('too deep: hidden_dims of 10M entries, layers_per_block 1e6 and a 5000-layer MLP are refused before anything is built', () => {
  const t0 = performance.now();
  const long = { _class_name: 'MLPModel', in_channels: 2, hidden_dims: new Array(10_000_000).fill(16) };
  assert.throws(
    () => modelFromConfig(long, 'big.json'),
    (e: Error) =>
      e instanceof ResourceLimitError &&
      /^big\.json: hidden_dims has 10000000 entries: a model of 10000001 layers is refused \(at most 500 layers/.test(
        e.message,
      ),
  );
  assert.throws(
    () =>
      modelFromConfig({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: new Array(5000).fill(128) }, 'deep.json'),
    /deep\.json: hidden_dims has 5000 entries: .*at most 500 layers/,
  );
  const lpb = modelConfig('unet-s', {}) as unknown as Record<string, unknown>;
  assert.throws(
    () => modelFromConfig({ ...lpb, layers_per_block: 1_000_000 }, 'u.json'),
    /u\.json: layers_per_block = 1000000 with 3 down and 3 up blocks: a model of \d+ layers is refused/,
  );
  assert.throws(() => estimateModelResources({ ...lpb, layers_per_block: 1_000_000 }, 'u.json'), ResourceLimitError);
  assert.ok(performance.now() - t0 < 20_000, 'refused quickly');
  assert.equal(MAX_LAYERS, 500);
  // a model at the cap still builds
  assert.doesNotThrow(() =>
    modelFromConfig({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: new Array(MAX_LAYERS - 1).fill(4) }),
  );
});

test('memory: [30000, 30000] and unet-s at 4096 px exceed any plausible limit; the message names the job, the estimate and the limit', () => {
  const wide = estimateModelResources({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [30000, 30000] });
  // at least the 14 float32 copies of the weights counted by trainingBytes: 14 * 4 * 902,100,002 bytes
  assert.ok(trainingBytes(wide, 128) >= 14 * 4 * 902_100_002);
  const limit = { bytes: 16 * 2 ** 30, source: 'test' };
  assert.throws(
    () => checkMemory('train --model wide.json', trainingBytes(wide, 128), limit),
    /^ResourceLimitError: train --model wide\.json needs about 47\.\d GiB of memory, more than the limit of 16\.0 GiB \(test\); nothing was allocated \(raise the limit with --max-memory or DIFFUSE_MEMORY_LIMIT\)$/,
  );
  // unet-s at 4096 x 4096: the 1024 x 1024 attention level alone has 8 heads x (2^20)^2 scores per sample
  const big = estimateModelResources(modelConfig('unet-s', { sample_size: 4096 }));
  assert.ok(big.activationBytesPerSample >= 4 * 8 * 2 ** 40);
  assert.throws(() => checkMemory('sample', samplingBytes(big, 1), limit), ResourceLimitError);
  // small jobs pass a small limit
  assert.doesNotThrow(() =>
    checkMemory('train mlp-2d', trainingBytes(estimateModelResources(modelConfig('mlp-2d')), 128), {
      bytes: 64 * 2 ** 20,
      source: 'test',
    }),
  );
});

test('the limit: DIFFUSE_MEMORY_LIMIT sizes, else 80% of the machine; bad values are errors naming the variable', () => {
  assert.equal(parseBytes('4GiB'), 4 * 2 ** 30);
  assert.equal(parseBytes('512MB'), 512e6);
  assert.equal(parseBytes('1e9'), 1e9);
  assert.equal(parseBytes('2g'), 2e9);
  assert.equal(parseBytes('lots'), null);
  assert.equal(memoryLimit({ DIFFUSE_MEMORY_LIMIT: '1GiB' }).bytes, 2 ** 30);
  assert.equal(
    memoryLimit({}).bytes,
    Math.floor(
      0.8 *
        Math.min(
          os.totalmem(),
          (process as unknown as { constrainedMemory?: () => number }).constrainedMemory?.() || Infinity,
        ),
    ),
  );
  assert.throws(
    () => memoryLimit({ DIFFUSE_MEMORY_LIMIT: 'lots' }),
    /^Error: DIFFUSE_MEMORY_LIMIT = "lots" is invalid: expected a size such as 4GiB/,
  );
  assert.equal(formatBytes(3 * 2 ** 30), '3.0 GiB');
});

test('sampling chunks depend on the config only; 1e7 mlp-2d samples are a few hundred chunks of bounded memory', () => {
  const r = estimateModelResources(modelConfig('mlp-2d'));
  const chunk = sampleChunkSize(r);
  assert.ok(chunk >= 10_000 && chunk <= 200_000, String(chunk));
  assert.ok(samplingBytes(r, chunk) <= 300 * 2 ** 20);
  assert.ok(Math.ceil(1e7 / chunk) < 1000);
  assert.ok(sampleChunkSize(estimateModelResources(modelConfig('unet-s'))) >= 1);
});

test('data sizes from headers: a 1M-column CSV, an image folder at 4096 px', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-size-'));
  try {
    const row = new Array(1_000_000).fill('1.5').join(',');
    fs.writeFileSync(path.join(dir, 'wide.csv'), `${row}\n${row}\n${row}\n`);
    const d = inspectDataSource(path.join(dir, 'wide.csv'))!;
    assert.deepEqual(d.sampleShape, [1_000_000]);
    assert.equal(d.items, 3);
    assert.ok(d.bytes >= 3 * 1_000_000 * 4 * 3);
    // the model for it: 1M inputs x 128 is 128M weights in the first layer alone
    const m = estimateModelResources(modelConfig('mlp-2d', { in_channels: 1_000_000, out_channels: 1_000_000 }));
    assert.ok(m.parameters > 2 * 128 * 1_000_000);
    fs.mkdirSync(path.join(dir, 'imgs'));
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, 'imgs', `${i}.png`), 'x');
    const im = inspectDataSource(path.join(dir, 'imgs'), { imageSize: 4096, channels: 3 })!;
    assert.deepEqual(im.sampleShape, [3, 4096, 4096]);
    assert.equal(im.bytes, 3 * 4 * 3 * 4096 * 4096 * 10 + 2);
    assert.equal(inspectDataSource(path.join(dir, 'missing.csv')), null);
    assert.deepEqual(inspectDataSource('moons')!.sampleShape, [2]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
