import { join } from 'node:path';
import { REPO_ROOT, spawnBin, type ProcessResult } from './worker';

export const ADMIN_BIN = join(REPO_ROOT, 'bin', 'ductstream-admin');

/** Runs `./bin/ductstream-admin` to completion (built into dist/ by `npm test`). */
export async function runAdmin(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<ProcessResult> {
  const p = spawnBin(ADMIN_BIN, args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const r = await p.exited;
  clearTimeout(timer);
  return r;
}

/** Runs it with `-json` and parses stdout; throws with stderr when it fails. */
export async function adminJson<T = Record<string, unknown>>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const r = await runAdmin([...args, '-json'], env);
  if (r.code !== 0) throw new Error(`ductstream-admin ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
