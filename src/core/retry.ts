import { retryClassOf, type RetryClass } from './errors';

export interface RetryPolicy {
  /** Total attempts including the first; Infinity retries until success or a `never` error. */
  maxAttempts: number;
  /** Delay before the first retry, in ms. */
  baseMs: number;
  /** Cap on any single delay, in ms. */
  maxMs: number;
  /** Growth factor per attempt. */
  factor: number;
  /** Fraction of each delay randomized (0..1), so many clients do not retry in lockstep. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseMs: 200, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** The delay before retry number `attempt` (1-based), capped and jittered. */
export function backoffDelayMs(attempt: number, p: RetryPolicy, random: () => number = Math.random): number {
  const raw = Math.min(p.maxMs, p.baseMs * Math.pow(p.factor, Math.max(0, attempt - 1)));
  const spread = raw * p.jitter;
  return Math.max(0, Math.round(raw - spread + random() * 2 * spread));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RetryHooks {
  /** Decides the class of a failure; defaults to the error's own DuctError class. */
  classify?: (e: unknown) => RetryClass;
  /** A server-suggested delay (e.g. Retry-After), used instead of the computed one when larger. */
  suggestedDelayMs?: (e: unknown) => number | undefined;
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  /**
   * Stops retrying early (e.g. shutdown): asked after each failure, and about once a second while
   * waiting, so a long delay does not hold up a stop. When it says yes, the last error is thrown.
   */
  aborted?: () => boolean | Promise<boolean>;
}

/** Sleeps `ms`, waking about once a second to ask `aborted`; resolves true when it said yes. */
async function sleepUnlessAborted(ms: number, aborted: RetryHooks['aborted']): Promise<boolean> {
  if (!aborted) {
    await sleep(ms);
    return false;
  }
  for (const until = Date.now() + ms; Date.now() < until;) {
    await sleep(Math.min(1000, until - Date.now()));
    if (await aborted()) return true;
  }
  return false;
}

/**
 * The one retry helper: runs `fn` until it succeeds, throws an error of class `never`, or the
 * attempts run out (then the last error is thrown). Delays grow exponentially, capped and jittered.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: Partial<RetryPolicy> = {}, hooks: RetryHooks = {}): Promise<T> {
  const p = { ...DEFAULT_RETRY, ...policy };
  const classify = hooks.classify ?? retryClassOf;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (classify(e) === 'never' || attempt >= p.maxAttempts || (await hooks.aborted?.())) throw e;
      const computed = backoffDelayMs(attempt, p);
      const suggested = hooks.suggestedDelayMs?.(e);
      const delay = suggested !== undefined ? Math.min(Math.max(suggested, computed), p.maxMs) : computed;
      hooks.onRetry?.(e, attempt, delay);
      if (await sleepUnlessAborted(delay, hooks.aborted)) throw e;
    }
  }
}
