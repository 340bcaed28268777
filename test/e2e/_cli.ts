/**
 * Helpers of the reliability tests: run the `diffuse` CLI in a child process (as a user would),
 * collect its output, kill it, compare output folders byte for byte.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO, 'src/cli/main.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  /** Output so far. */
  readonly stderr: string;
  readonly stdout: string;
  done: Promise<CliResult>;
  /** Resolves with the stderr so far once `pattern` matches it (rejects if the process exits first). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
}

/** Start `node --import tsx src/cli/main.ts ...args` from the repository root. */
export function startCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '',
    stderr = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const m = waiters[i].re.exec(stderr);
      if (m) {
        waiters[i].resolve(m);
        waiters.splice(i, 1);
      }
    }
  };
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    check();
  });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0))
        w.reject(
          new Error(`process exited (code ${code}, signal ${signal}) before ${w.re} appeared; stderr:\n${stderr}`),
        );
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
  };
}

/** Run the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/** A fresh temporary folder. */
export function tmpDir(prefix = 'diffuse-rel-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Poll until `file` exists (or the deadline passes). */
export async function waitForFile(file: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every regular file under `dir` (relative paths, sorted), hidden ones included. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** The assertion that every CLI error obeys: non-zero exit, one line on stderr naming what was wrong, no stack. */
export function errorLine(r: CliResult): string {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}
