/**
 * The whole training loop's cost per step (trainer.ts: batch, compiled step, EMA, loss read-back, hooks) on MNIST
 * unet-s, batch 64, to compare with the bare step of `npm run bench -- unet-s`. Median of steps 11-40.
 *
 *   npx tsx bench/train_loop.ts [--no-ema]
 */
import { createModel } from '../src/models/registry.ts';
import { openDataSource } from '../src/data/data_source.ts';
import { defaultTrainConfig, train } from '../src/training/trainer.ts';
const ema = process.argv.includes('--no-ema') ? null : 0.999;
const model = createModel('unet-s');
const data = openDataSource('mnist', { batchSize: 64, seed: 0 });
const times: number[] = [];
let last = 0;
await train({
  model,
  data,
  config: { ...defaultTrainConfig(), steps: 40, batchSize: 64, lr: 1e-3, emaDecay: ema, checkpointEvery: 1_000_000 },
  afterStep: (_step, secs) => {
    times.push(secs - last);
    last = secs;
    return false;
  },
});
const t = times.slice(10).sort((a, b) => a - b);
console.log(`ema ${ema}: median step ${(t[t.length >> 1] * 1000).toFixed(0)} ms, min ${(t[0] * 1000).toFixed(0)} ms`);
