import { debugStacksEnabled } from '../config/env';
import { DuctError, describeError } from '../core/errors';
import { redactSecrets } from '../core/redact';
import { UsageError } from './flags';

/** Exit codes of every binary: 0 ok, 1 runtime failure, 2 bad input (flags, env, flow JSON, options). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Prints one line for the error (no secrets, no stack) and returns the exit code it deserves. */
export function reportFatal(prog: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`${prog}: ${redactSecrets(e.message)}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`${prog}: ${describeError(e)}\n`);
  if (e instanceof DuctError && e.code === 'invalid_argument') return EXIT_USAGE;
  if (debugStacksEnabled() && e instanceof Error && e.stack) process.stderr.write(redactSecrets(e.stack) + '\n');
  return EXIT_FAILURE;
}
