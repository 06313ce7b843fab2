import type { Batch } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { Lsn } from '../../core/lsn';
import type { Source } from '../source';
import type { PostgresSourceConfig } from './config';
import { internalSchemasOf } from './internalSchemas';
import { ReplicationSession, type StreamPositions } from './stream/session';

export interface PostgresSourceDeps {
  flowId: string;
  log: Logger;
  /**
   * Changes the source may decode ahead of the consumer (besides {@link MAX_READY_BATCHES}
   * batches): a consumer that merges small batches into larger writes sets its write size here.
   */
  readAheadRows?: number;
  /** Called with the WAL position of each heartbeat message written (`heartbeat_interval`). */
  onHeartbeat?: (lsn: Lsn) => void;
}

/** Cheap progress numbers (no I/O): positions for lag output. */
export interface PostgresSourceStats extends StreamPositions {
  /** True while a replication session is open. */
  streaming: boolean;
}

/** Batches decoded ahead of the consumer before the source stops reading the socket. */
const MAX_READY_BATCHES = 2;

/**
 * The PostgreSQL logical replication source (pgoutput, protocol version 1) over node `pg`.
 *
 * Contract (see {@link Source}):
 * - `open(from)` streams every transaction that commits after `from` (the slot's confirmed_flush_lsn
 *   when `from` is older or 0), in commit order, as {@link Batch}es: full at `batch_size` changes;
 *   partial as soon as the consumer asks while the stream has caught up (every transaction received
 *   is complete and the socket holds nothing more), else `batch_timeout` after their first change;
 *   empty after `batch_timeout` without changes.
 *   A transaction may span batches. `Batch.checkpointLsn` never points inside a transaction, so
 *   reopening from it re-delivers at most the transaction that was partially delivered:
 *   at-least-once, never loss.
 * - Backpressure: at most {@link MAX_READY_BATCHES} batches, or more small ones up to
 *   `readAheadRows` changes (plus the one being filled and one socket read), are decoded ahead;
 *   then the socket is paused until the consumer pulls.
 * - `ack(upTo)` records `upTo` as durable (monotone) and sends a standby status update with
 *   write = flush = apply = the last acknowledged position. The same position is repeated every
 *   `status_interval` and whenever the server asks for a reply: the slot's confirmed_flush_lsn
 *   never passes what was acknowledged, and an idle slot still advances.
 * - Failures: a lost connection or server restart → DuctError `unavailable` (retry `transient`; the
 *   caller reopens from its checkpoint); a slot in use by another process → `unavailable` naming
 *   the slot; a missing or foreign slot → `failed_precondition` (retry `never`).
 * - `close()` ends replication with CopyDone and closes both connections; safe to call twice.
 * - Changes of DuctStream's own tables (state/snapshot schemas, `dbos`) are never delivered.
 */
export class PostgresSource implements Source {
  private readonly acked = { lsn: 0n as Lsn };
  private session?: ReplicationSession;
  private readonly internalSchemas: ReadonlySet<string>;

  constructor(
    private readonly config: PostgresSourceConfig,
    private readonly deps: PostgresSourceDeps,
  ) {
    this.internalSchemas = internalSchemasOf(config);
  }

  open(from: Lsn): AsyncIterable<Batch> {
    return { [Symbol.asyncIterator]: () => this.stream(from) };
  }

  private async *stream(from: Lsn): AsyncGenerator<Batch, void, undefined> {
    if (this.session) throw new DuctError('internal', `the source of slot ${this.config.slot} is already open; close() it before opening again`);
    const session = new ReplicationSession(
      this.config,
      {
        flowId: this.deps.flowId,
        log: this.deps.log,
        internalSchemas: this.internalSchemas,
        acked: this.acked,
        maxReadyBatches: MAX_READY_BATCHES,
        readAheadRows: this.deps.readAheadRows ?? 0,
        onHeartbeat: this.deps.onHeartbeat,
      },
      from,
    );
    this.session = session;
    try {
      await session.start();
      for (;;) {
        const batch = await session.next();
        if (batch === undefined) return;
        yield batch;
      }
    } finally {
      await session.stop();
      if (this.session === session) this.session = undefined;
    }
  }

  async ack(upTo: Lsn): Promise<void> {
    if (upTo > this.acked.lsn) this.acked.lsn = upTo;
    this.session?.sendStatus();
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.stop();
  }

  stats(): PostgresSourceStats {
    const p = this.session?.positions();
    if (p) return { ...p, streaming: true };
    return { receivedLsn: 0n, ackedLsn: this.acked.lsn, serverWalEnd: 0n, checkpointLsn: 0n, changes: 0, streaming: false };
  }
}
