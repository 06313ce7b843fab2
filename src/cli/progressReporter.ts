import { progressIntervalMs } from '../config/env';
import type { Logger } from '../core/log';
import { formatLsn } from '../core/lsn';
import type { FlowProgress } from '../pipeline/progress';

/**
 * Prints a progress line for a flow every DUCTSTREAM_PROGRESS_INTERVAL seconds (default 5) on
 * stderr: rows and rows/s since the last line, batches, checkpoint LSN and lag in bytes behind
 * the server's WAL end, and `status="retrying: <reason>"` while an outage is being retried. Returns a function that stops it and prints a last line, so even a run
 * shorter than the interval reports its progress once.
 */
export function startProgressReporter(p: FlowProgress, log: Logger, intervalMs = progressIntervalMs()): () => void {
  let lastRows = 0;
  let lastAt = Date.now();
  const report = (): void => {
    const now = Date.now();
    const rate = ((p.rows - lastRows) * 1000) / Math.max(1, now - lastAt);
    lastRows = p.rows;
    lastAt = now;
    const lag = p.serverWalEnd > p.checkpointLsn && p.checkpointLsn > 0n ? p.serverWalEnd - p.checkpointLsn : 0n;
    log.info('progress', {
      rows: p.rows,
      rows_per_s: Math.round(rate),
      batches: p.batches,
      lsn: formatLsn(p.checkpointLsn),
      received_lsn: formatLsn(p.receivedLsn),
      lag_bytes: lag,
      status: p.retrying,
    });
  };
  const timer = setInterval(report, intervalMs);
  timer.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    report();
  };
}
