/**
 * Fault injection for the crash tests of model folder writes (tests only; a no-op unless the
 * environment variable is set). DIFFUSE_TEST_FAULT selects what happens at the atomic writers'
 * operations (every file write, rename, directory creation and removal; io/atomic.ts faultPoint),
 * counted from 1 over the life of the process:
 *
 *   DIFFUSE_TEST_FAULT=log:<file>    append "<n> <op> <path>" for every operation to <file>
 *   DIFFUSE_TEST_FAULT=kill@<n>      SIGKILL this process just before operation n
 *   DIFFUSE_TEST_FAULT=enospc@<n>    make operation n fail with ENOSPC (no space left on device)
 *
 * A test first runs with log: to list the operations of a save, then once per operation with kill@n
 * or enospc@n, and checks that the folder still holds a consistent model and that --resume ends
 * with the same bytes as an uninterrupted run.
 *
 * @example
 *   installFaultInjection('enospc@3'); // in-process tests: the 3rd operation from now throws
 */
import fs from 'node:fs';
import { setAtomicFaultHook, type AtomicOp } from '../io/atomic.ts';

let installed: string | null = null;

/** Install the hook for `spec` (see the file comment); null removes it. Counting restarts. @example installFaultInjection('kill@7') */
export function installFaultInjection(spec: string | null): void {
  installed = spec;
  if (!spec) {
    setAtomicFaultHook(null);
    return;
  }
  let n = 0;
  const log = /^log:(.+)$/.exec(spec);
  const at = /^(kill|enospc)@(\d+)$/.exec(spec);
  if (!log && !at)
    throw new Error(`DIFFUSE_TEST_FAULT=${spec} is invalid: expected log:<file>, kill@<n> or enospc@<n>`);
  setAtomicFaultHook((op: AtomicOp, target: string) => {
    n += 1;
    if (log) {
      fs.appendFileSync(log[1], `${n} ${op} ${target}\n`);
      return;
    }
    if (n !== Number(at![2])) return;
    if (at![1] === 'kill') {
      process.kill(process.pid, 'SIGKILL');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000); // the signal is on its way
    }
    const e = new Error(
      `ENOSPC: no space left on device (injected at operation ${n}: ${op} ${target})`,
    ) as NodeJS.ErrnoException;
    e.code = 'ENOSPC';
    throw e;
  });
}

/** Install from DIFFUSE_TEST_FAULT once per process (called by the folder writers). @example installFaultInjectionFromEnv() */
export function installFaultInjectionFromEnv(): void {
  const spec = process.env.DIFFUSE_TEST_FAULT;
  if (!spec || installed === spec) return;
  installFaultInjection(spec);
}
