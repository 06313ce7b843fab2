import { DuctError } from '../../src/core/errors';
import { backoffDelayMs, withRetry } from '../../src/core/retry';

const transient = () => new DuctError('unavailable', 'connection refused', { retry: 'transient' });

describe('withRetry', () => {
  it('retries transient failures without end when maxAttempts is Infinity, with delays capped at maxMs', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        if (++calls < 12) throw transient();
        return 'done';
      },
      { maxAttempts: Infinity, baseMs: 1, maxMs: 8, factor: 2, jitter: 0 },
      { onRetry: (_e, _attempt, ms) => delays.push(ms) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(12);
    expect(delays).toEqual([1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8]);
  });

  it('throws a permanent error at once', async () => {
    let calls = 0;
    const permanent = new DuctError('failed_precondition', 'relation "t" does not exist', { retry: 'never' });
    await expect(
      withRetry(
        async () => {
          calls++;
          throw permanent;
        },
        { maxAttempts: Infinity, baseMs: 1 },
      ),
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
  });

  it('wakes from a long delay within about a second once aborted says so, and throws the last error', async () => {
    let stop = false;
    setTimeout(() => (stop = true), 300);
    const started = Date.now();
    const last = transient();
    await expect(
      withRetry(
        async () => {
          throw last;
        },
        { maxAttempts: Infinity, baseMs: 60_000, maxMs: 60_000, jitter: 0 },
        { aborted: async () => stop },
      ),
    ).rejects.toBe(last);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('caps the computed delay', () => {
    expect(backoffDelayMs(40, { maxAttempts: Infinity, baseMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 }, () => 1)).toBe(36_000);
    expect(backoffDelayMs(40, { maxAttempts: Infinity, baseMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 }, () => 0)).toBe(24_000);
  });
});
