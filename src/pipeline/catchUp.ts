import type { Lsn } from '../core/lsn';

/**
 * Whether an empty read means "caught up": the delivered position (the checkpoint, which an empty
 * batch moves to the last keepalive's WAL end when nothing is pending) has reached the server's
 * flushed WAL position taken when the stream opened. Until then an empty poll does not count as
 * empty: the WAL sender may still be decoding other tables' WAL. What the source has merely
 * received does not count: a batch cut by the timer can be handed out while changes received just
 * before are still being decoded, and ending the run then would stop a `-max-empty-reads 1` worker
 * with the backlog undelivered. Once reached, it stays reached until the stream reopens.
 */
export class CatchUp {
  private target: Lsn = 0n;
  private reached = false;

  /** The stream (re)opens at `from`; `target` is the server's flushed WAL position then. */
  reset(from: Lsn, target: Lsn): void {
    this.target = target;
    this.reached = from >= target;
  }

  /** Whether the delivered `checkpoint` has caught up (sticky). */
  at(checkpoint: Lsn): boolean {
    if (!this.reached) this.reached = checkpoint >= this.target;
    return this.reached;
  }
}
