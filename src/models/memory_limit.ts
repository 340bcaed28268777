/**
 * The memory limit jobs are checked against before they allocate (Node.js: reads the machine's
 * memory): the environment variable DIFFUSE_MEMORY_LIMIT (the CLI's `--max-memory` sets it; sizes
 * such as `4GiB`, `512MB`, `1e9`), else 80% of the machine's memory (the smaller of os.totalmem()
 * and a cgroup limit, process.constrainedMemory()).
 *
 * @example
 *   checkMemory('train', trainingBytes(estimateModelResources(config), 128), memoryLimit());
 */
import os from 'node:os';
import { formatBytes, parseBytes, type MemoryLimit } from './resources.ts';

/**
 * The memory limit jobs are checked against: DIFFUSE_MEMORY_LIMIT, else 80% of the machine's memory.
 * @example memoryLimit() // { bytes: 20132659200, source: '80% of this machine's 23.4 GiB' }
 */
export function memoryLimit(env: NodeJS.ProcessEnv = process.env): MemoryLimit {
  const raw = env.DIFFUSE_MEMORY_LIMIT;
  if (raw !== undefined && raw !== '') {
    const b = parseBytes(raw);
    if (b === null)
      throw new Error(
        `DIFFUSE_MEMORY_LIMIT = ${JSON.stringify(raw)} is invalid: expected a size such as 4GiB, 512MB or 1e9 (bytes)`,
      );
    return { bytes: b, source: `--max-memory / DIFFUSE_MEMORY_LIMIT = ${raw}` };
  }
  const constrained =
    (process as unknown as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() || Infinity;
  const total = Math.min(os.totalmem(), constrained);
  return { bytes: Math.floor(0.8 * total), source: `80% of this machine's ${formatBytes(total)}` };
}
