import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');
export const WORKER_BIN = join(REPO_ROOT, 'bin', 'ductstream-worker');

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SpawnedProcess {
  child: ChildProcess;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the process exits. */
  exited: Promise<ProcessResult>;
  /** Resolves once stderr matches `pattern` (rejects after `timeoutMs`). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts a binary of this repository (built into dist/ by `npm test`). */
export function spawnBin(bin: string, args: string[], env: NodeJS.ProcessEnv): SpawnedProcess {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  // 'exit' can come before the last output is read: wait for the pipes to close too (bounded, in case a
  // grandchild still holds them).
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const exited = new Promise<ProcessResult>((resolve) =>
    child.on('exit', (code, signal) => {
      void Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]).then(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited,
    waitForStderr: (pattern, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in stderr:\n${stderr.slice(-3000)}`)), timeoutMs);
        waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        void exited.then(() => {
          if (!pattern.test(stderr)) {
            clearTimeout(timer);
            reject(new Error(`process exited before ${pattern} appeared; stderr:\n${stderr.slice(-3000)}`));
          }
        });
      }),
  };
}

/** Runs the worker to completion and returns its exit status and output. */
export async function runWorker(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ProcessResult> {
  const p = spawnBin(WORKER_BIN, args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const r = await p.exited;
  clearTimeout(timer);
  return r;
}
