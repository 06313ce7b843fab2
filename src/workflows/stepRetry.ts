import { describeError } from '../core/errors';
import { withRetry, type RetryPolicy } from '../core/retry';
import type { StopReason } from '../pipeline/flowRuntime';
import { pipelineContext } from './context';
import { stopReasonOf } from './stopReason';

/** A step that gave up retrying because the run must end (pause, stop, delete, new definition, signal). */
export interface Interrupted {
  interrupted: StopReason;
}

export function isInterrupted(v: unknown): v is Interrupted {
  return typeof v === 'object' && v !== null && 'interrupted' in v;
}

/** The first retry waits ~0.5 s, each next one twice as long, up to DUCTSTREAM_RETRY_MAX_BACKOFF. */
const STEP_RETRY: Omit<RetryPolicy, 'maxAttempts' | 'maxMs'> = { baseMs: 500, factor: 2, jitter: 0.2 };

/** Longest reason kept in the flow's `state_reason` and the progress line. */
const MAX_REASON = 500;

/**
 * Runs one step of a flow run, retrying transient failures (class `transient` or `backoff`: a lost
 * connection, a server shutting down, a broker without leader, a 5xx, a timeout) without end — or
 * DUCTSTREAM_STEP_MAX_ATTEMPTS times when set — with capped, jittered exponential backoff. While it
 * retries, the flow stays `running` and shows `retrying: <reason>` in its state reason (GetFlow,
 * ListFlows), in the progress line, and in a log line per attempt; the note is cleared once the
 * step succeeds. A permanent error (class `never`) is thrown at once, so the run marks the flow
 * failed. Between attempts the run's stop conditions are checked about once a second: when the
 * run must end, this returns {@link Interrupted} instead of throwing (a step's result is recorded,
 * so a replay takes the same decision).
 */
export async function retryingStep<T>(flowId: string, step: string, fn: () => Promise<T>): Promise<T | Interrupted> {
  const { deps, progress } = pipelineContext();
  const log = deps.log.child({ flow: flowId, step });
  const policy: RetryPolicy = { ...STEP_RETRY, maxAttempts: deps.env.runner.stepMaxAttempts || Infinity, maxMs: deps.env.runner.retryMaxBackoffMs };
  let interrupted: StopReason | null = null;
  let retried = 0;
  let noted: Promise<void> = Promise.resolve();
  try {
    const result = await withRetry(fn, policy, {
      onRetry: (e, attempt, delayMs) => {
        retried = attempt;
        const note = `retrying: ${describeError(e)}`.slice(0, MAX_REASON);
        progress.of(flowId).retrying = note;
        log.warn(note, { attempt, next_attempt_in_ms: delayMs });
        noted = noted.then(() => deps.flows.noteRunning(flowId, note)).catch(() => undefined);
      },
      aborted: async () => {
        interrupted = await stopReasonOf(flowId);
        return interrupted !== null;
      },
    });
    if (retried > 0) log.info('recovered: the step succeeded after retrying', { attempts: retried + 1 });
    return result;
  } catch (e) {
    if (interrupted !== null) {
      log.info('stopped retrying: the run ends', { reason: interrupted });
      return { interrupted };
    }
    throw e;
  } finally {
    if (retried > 0) {
      progress.of(flowId).retrying = undefined;
      // The store may be the database that was down: never let the note hold up the run.
      await Promise.race([noted, new Promise((r) => setTimeout(r, 5000).unref())]);
      await deps.flows.noteRunning(flowId, '').catch(() => undefined);
    }
  }
}
