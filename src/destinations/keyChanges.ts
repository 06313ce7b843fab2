import { tableKey, type Batch, type Change, type Row, type TableSchema } from '../core/change';
import type { Logger } from '../core/log';
import type { SourceRowReader } from '../core/sourceRows';
import { rowKeyText } from './idempotency';
import { KeyMoveTables, positionKey, type KeyMoveAnswer } from './keyMoves';
import { keyIdOf } from './sql/row-key';

/**
 * What an event destination sends for a change:
 * - `change`: the change itself, keyed by its row key (the new key for an update);
 * - `old_key_delete`: before an update that moves a row to another key, a delete of the old key
 *   (as Debezium does), so key-based and compacted consumers drop the old row;
 * - `tombstone`: (Kafka, `tombstones=true`) a record with a null value for a deleted key, after its
 *   delete, so log compaction removes the key;
 * - `refresh`: instead of the delete (and tombstone) of a key that may still hold the row it held
 *   before the transaction (see `KeyMoveDeletes`), the key's current row read from the source, as
 *   a `read` change (like a backfill row): it can be newer than the change; a later change of that
 *   key follows in the stream and brings it back in step.
 */
export type EventKind = 'change' | 'old_key_delete' | 'tombstone' | 'refresh';

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
  return eventsFrom(batch, tombstones, moves.observe(batch), NO_ROWS);
}

/**
 * {@link eventsOf}, where a delete (and tombstone) for a key that may still hold the row it held
 * before the transaction (a row moved into a held key and out again, a swap of two rows equal but
 * for the key: `KeyMoveDeletes` cannot tell), or for a key whose latest record is the image of the
 * row leaving it while another row stays (B updated in place at K after A moved in, then leaving),
 * is decided by the source: when the source holds a row at that key now, a `refresh` event with
 * it is sent instead; when not, the delete. Without a reader (`sourceRows` undefined) the delete
 * is sent. One read per table per batch that has such keys.
 */
export async function eventsWithSource(
  batch: Batch,
  tombstones: boolean,
  moves: KeyMoveTables,
  sourceRows: SourceRowReader | undefined,
  log: Logger,
): Promise<OutgoingEvent[]> {
  const answer = moves.observe(batch);
  if (!sourceRows) return eventsFrom(batch, tombstones, answer, NO_ROWS);
  const byTable = new Map<string, { schema: TableSchema; changes: Array<[Change, Row]> }>();
  for (const c of batch.changes) {
    const old = answer.unsure(c);
    if (!old) continue;
    const key = tableKey(c.table);
    let t = byTable.get(key);
    if (!t) byTable.set(key, (t = { schema: batch.schemas.get(key)!, changes: [] }));
    t.changes.push([c, old]);
  }
  const current = new Map<Change, Row | null>();
  for (const [key, { schema, changes }] of byTable) {
    const idOf = keyIdOf(schema.primaryKey);
    const rows = new Map<unknown, Row>();
    for (const r of await sourceRows.rowsByKey(
      schema,
      changes.map(([, old]) => old),
    ))
      rows.set(idOf(r), r);
    let held = 0;
    for (const [c, old] of changes) {
      const row = rows.get(idOf(old)) ?? null;
      if (row !== null) held++;
      current.set(c, row);
    }
    log.info('keys a row moved into and out of again within a transaction were read from the source (a row may be newer than the change)', {
      table: key,
      keys: changes.length,
      held,
    });
  }
  return eventsFrom(batch, tombstones, answer, current);
}

/** The events of `batch` given the tracker's answer and the source's rows at unsure keys (null: none). */
function eventsFrom(batch: Batch, tombstones: boolean, moves: KeyMoveAnswer, current: ReadonlyMap<Change, Row | null>): OutgoingEvent[] {
  const out: OutgoingEvent[] = [];
  const changes = batch.changes;
  let schema: TableSchema | undefined;
  let table: Change['table'] | undefined;
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    if (c.table !== table) {
      table = c.table;
      schema = batch.schemas.get(tableKey(c.table))!;
    }
    const s = schema!;
    const kept = moves.kept(c);
    // A delete of a key that still holds a row this transaction moved or inserted there: that
    // row's image, sent earlier, is what the key holds at commit (see the function comment).
    if (c.op === 'delete' && kept) continue;
    const held = current.size > 0 ? current.get(c) : undefined;
    const rowKey = rowKeyText(c, s);
    if (c.op === 'delete' && held) {
      out.push({ kind: 'refresh', change: refreshOf(c, held, s), index: i, rowKey, schema: s });
      continue;
    }
    if (c.op === 'update' && c.before !== null && s.primaryKey.length > 0) {
      const del = oldKeyDeleteOf(c);
      const oldKey = rowKeyText(del, s);
      if (oldKey !== rowKey && !kept && held) {
        out.push({ kind: 'refresh', change: refreshOf(c, held, s), index: i, rowKey: oldKey, schema: s });
      } else if (oldKey !== rowKey && !kept) {
        out.push({ kind: 'old_key_delete', change: del, index: i, rowKey: oldKey, schema: s });
        if (tombstones) out.push({ kind: 'tombstone', change: del, index: i, rowKey: oldKey, schema: s });
      }
    }
    out.push({ kind: 'change', change: c, index: i, rowKey, schema: s });
    if (c.op === 'delete' && tombstones && s.primaryKey.length > 0) out.push({ kind: 'tombstone', change: c, index: i, rowKey, schema: s });
  }
  return out;
}

const NO_ROWS: ReadonlyMap<Change, Row | null> = new Map();

/**
 * What a batch's events decided about each change's delete record, by stream position
 * (`positionKey`), for a destination that writes records of its own from the changes (Snowpipe
 * files). Contract: a position is in at most one of the two; the others' deletes are written.
 */
export interface DeleteDecisions {
  /** Positions whose delete record (a delete change's, or a key change's old key's) is left out. */
  left: ReadonlySet<string>;
  /** Positions whose delete record is replaced by this `read` change: the source's current row at that key. */
  refreshed: ReadonlyMap<string, Change>;
}

/** The {@link DeleteDecisions} of `events`, derived from `batch` by {@link eventsOf} or {@link eventsWithSource}. */
export function deleteDecisions(batch: Batch, events: readonly OutgoingEvent[]): DeleteDecisions {
  const sent = new Set<number>();
  const refreshed = new Map<string, Change>();
  for (const e of events) {
    if (e.kind === 'refresh') refreshed.set(positionKey(e.change), e.change);
    if (e.kind === 'refresh' || e.kind === 'old_key_delete' || (e.kind === 'change' && e.change.op === 'delete')) sent.add(e.index);
  }
  const left = new Set<string>();
  batch.changes.forEach((c, i) => {
    if ((c.op === 'delete' || c.op === 'update') && !sent.has(i)) left.add(positionKey(c));
  });
  return { left, refreshed };
}

/** The source's current row at a key, as a `read` change at `c`'s position. */
function refreshOf(c: Change, row: Row, schema: TableSchema): Change {
  const key: Row = {};
  for (const k of schema.primaryKey) key[k] = row[k] ?? null;
  return { ...c, op: 'read', key, before: null, after: row, unchangedToast: [] };
}

/** The delete of an update's old key: same position, the old row (or key) as its image. */
export function oldKeyDeleteOf(c: Change): Change {
  return { ...c, op: 'delete', key: c.before ?? c.key, after: null, unchangedToast: [] };
}
