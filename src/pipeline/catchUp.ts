import type { Lsn } from '../core/lsn';
import { currentWalEnd } from '../source/postgres/walPosition';

/**
 * Whether a flow's stream has caught up with its source: its delivered position reached the end of
 * the WAL the server had written when the stream opened, so every transaction committed before then
 * was delivered. Until then an empty poll does not count as empty: the WAL sender may still be
 * decoding other tables' WAL, or waiting for the WAL writer to flush commits made with
 * `synchronous_commit = off` (it streams only flushed WAL).
 */
export class CatchUp {
  private target: Lsn = 0n;
  private reached = false;

  constructor(private readonly walEnd: (dsn: string) => Promise<Lsn> = currentWalEnd) {}

  /** Takes the target for a stream opening at `from` on `dsn`; call before the stream opens. */
  async open(dsn: string, from: Lsn): Promise<void> {
    this.target = await this.walEnd(dsn);
    this.reached = from >= this.target;
  }

  /**
   * Whether an empty read at delivered position `checkpoint` (which an empty batch moves to the
   * last keepalive's WAL end when nothing is pending) means caught up; once true it stays true
   * until the next {@link open}. What the source has merely received does not count: a batch cut by
   * the timer can be handed out while changes received just before are still being decoded, and
   * ending the run then would stop a `-max-empty-reads 1` worker with the backlog undelivered.
   */
  at(checkpoint: Lsn): boolean {
    if (!this.reached) this.reached = checkpoint >= this.target;
    return this.reached;
  }
}
