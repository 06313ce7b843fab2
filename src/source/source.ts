import type { Batch } from '../core/change';
import type { Lsn } from '../core/lsn';

/**
 * A change source. Postgres is the only kind today.
 *
 * Contract:
 * - `open(from)` streams every transaction that commits after `from`, in commit order, as batches.
 *   Delivery is at-least-once: after a restart from an older position, transactions are sent again.
 * - Batches are bounded (`batch_size`, `batch_timeout`), and a partial batch is handed over as soon
 *   as the source has caught up (low latency at low rates); the iterator applies backpressure: it
 *   reads no further from the server while the consumer has not asked for the next batch, so memory
 *   does not grow with the backlog.
 * - `ack(upTo)` tells the server that everything up to `upTo` is durable and may be discarded. Call it
 *   only with a checkpoint that is already durable. The source also repeats the last acked position
 *   to the server every `status_interval`, so an idle slot keeps advancing and never holds WAL forever.
 * - `close()` ends the stream and releases the server connection; it is safe to call twice.
 */
export interface Source {
  open(from: Lsn): AsyncIterable<Batch>;
  ack(upTo: Lsn): Promise<void>;
  close(): Promise<void>;
}
