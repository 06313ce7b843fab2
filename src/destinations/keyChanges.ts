import { tableKey, type Batch, type Change, type TableSchema } from '../core/change';
import { rowKeyText } from './idempotency';
import { KeyMoveTables } from './keyMoves';

/**
 * What an event destination sends for a change:
 * - `change`: the change itself, keyed by its row key (the new key for an update);
 * - `old_key_delete`: before an update that moves a row to another key, a delete of the old key
 *   (as Debezium does), so key-based and compacted consumers drop the old row;
 * - `tombstone`: (Kafka, `tombstones=true`) a record with a null value for a deleted key, after its
 *   delete, so log compaction removes the key.
 */
export type EventKind = 'change' | 'old_key_delete' | 'tombstone';

export interface OutgoingEvent {
  kind: EventKind;
  /** The change to encode: the batch's own, or for `old_key_delete` the delete it implies. */
  change: Change;
  /** Index of the batch change this event comes from (its encoded message, for `change`). */
  index: number;
  /** The key the event is keyed by (partition, lane), as `rowKeyText`. */
  rowKey: string;
  schema: TableSchema;
}

/**
 * The events of a batch in commit order (see {@link EventKind}). A key change of a DEFERRABLE key
 * whose old key received, earlier in the same transaction, a row other than the one leaving it (a
 * swap: 1 → 2 while 2 → 1, a cycle) emits no delete for that key: the row moved in stays there.
 * Likewise a delete change of the other row at such a key (A moved into K while B still held it,
 * then B deleted) is not sent at all, neither its delete nor its tombstone: the key's last record
 * must be what it holds at commit, A's image, sent when A moved in. Dropping it (rather than
 * sending it and then A's image again) keeps one record per key and position, as Snowpipe files
 * do, and a consumer keyed by the primary key already saw B replaced at K by A's image.
 * `moves` carries the transaction's earlier changes across writes (a swap cut between two
 * batches): pass the destination's one {@link KeyMoveTables}, fed every batch in stream order;
 * without it, only key moves inside this batch are seen.
 */
export function eventsOf(batch: Batch, tombstones: boolean, moves: KeyMoveTables = new KeyMoveTables()): OutgoingEvent[] {
  const out: OutgoingEvent[] = [];
  const changes = batch.changes;
  const keptKey = moves.observe(batch);
  let schema: TableSchema | undefined;
  let table: Change['table'] | undefined;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.table !== table) {
      table = c.table;
      schema = batch.schemas.get(tableKey(c.table))!;
    }
    const s = schema!;
    const kept = keptKey(c);
    // A delete of a key that still holds a row this transaction moved or inserted there: that
    // row's image, sent earlier, is what the key holds at commit (see the function comment).
    if (c.op === 'delete' && kept) continue;
    const rowKey = rowKeyText(c, s);
    if (c.op === 'update' && c.before !== null && s.primaryKey.length > 0) {
      const del = oldKeyDeleteOf(c);
      const oldKey = rowKeyText(del, s);
      if (oldKey !== rowKey && !kept) {
        out.push({ kind: 'old_key_delete', change: del, index: i, rowKey: oldKey, schema: s });
        if (tombstones) out.push({ kind: 'tombstone', change: del, index: i, rowKey: oldKey, schema: s });
      }
    }
    out.push({ kind: 'change', change: c, index: i, rowKey, schema: s });
    if (c.op === 'delete' && tombstones && s.primaryKey.length > 0) out.push({ kind: 'tombstone', change: c, index: i, rowKey, schema: s });
  }
  return out;
}

/** The delete of an update's old key: same position, the old row (or key) as its image. */
export function oldKeyDeleteOf(c: Change): Change {
  return { ...c, op: 'delete', key: c.before ?? c.key, after: null, unchangedToast: [] };
}
