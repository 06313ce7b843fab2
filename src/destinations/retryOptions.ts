import type { OptionReader } from '../config/options';
import type { RetryPolicy } from '../core/retry';

/** Defaults of the retry options every event destination (http, kafka, s3) accepts. */
export interface RetryDefaults {
  maxRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  backoffFactor: number;
}

/**
 * Reads `max_retries` (retries after the first attempt, ≥ 0), `backoff_base` and `backoff_max`
 * (durations: `200ms`, `1s`, a bare number is seconds) and `backoff_factor` (≥ 1) into the policy of
 * `withRetry` (src/core/retry.ts). Delays grow base · factor^n, capped at backoff_max, ±20% jitter.
 */
export function readRetryOptions(r: OptionReader, d: RetryDefaults): RetryPolicy {
  const maxRetries = r.int('max_retries', d.maxRetries, { min: 0, max: 1000 });
  const baseMs = r.durationMs('backoff_base', d.backoffBaseMs, { minMs: 0, maxMs: 3_600_000 });
  const maxMs = r.durationMs('backoff_max', d.backoffMaxMs, { minMs: 0, maxMs: 3_600_000 });
  const factor = r.number('backoff_factor', d.backoffFactor, { min: 1, max: 100 });
  return { maxAttempts: maxRetries + 1, baseMs, maxMs: Math.max(maxMs, baseMs), factor, jitter: 0.2 };
}
