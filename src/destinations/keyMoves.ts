import { groupByTable, tableKey, transactionKey, type Batch, type Change, type Row, type TableSchema } from '../core/change';
import { keyIdOf, type KeyId } from './sql/row-key';

/**
 * Which delete records an append-only or event destination must leave out so that a consumer
 * replaying its records in stream order (latest record per key wins, a delete removes the key: a
 * compacted Kafka topic, a webhook consumer, a Snowpipe table rebuilt by position) ends with the
 * source's rows, for a table with a DEFERRABLE key. Inside a transaction such a key may hold two
 * rows for a while: a swap moves 1 to 2 (a delete of 1, the row at 2) and then the row that was at
 * 2 to 1 — whose delete of key 2, later in stream order, would remove the row just moved there.
 * A delete (of a key change's old key, or of a delete change) is left out when its key still holds
 * a row that the same transaction put there: that image is the later one. Tables of other keys
 * never hold two rows at one key and are not tracked.
 *
 * A delete can also be unsure: only a row's full old image tells which of two rows at one key
 * leaves it, and the stream never says whether a key held a row before the transaction. When a row
 * the transaction put at a key leaves it again (moved on, moved back, deleted), and no row that was
 * there before the transaction has left it, the key may still hold that earlier row (A moved into
 * K while B held it, then A moved on; or a swap of two rows equal but for the key, which reads
 * exactly like a move and back). Such positions are reported by {@link unsure} with the departing
 * row; the caller reads the key's current row from the source (see `eventsWithSource`). So are
 * the positions where a row leaves a key that still holds a row this transaction put there, when
 * the key's latest record is the leaving row's own image (A moved into K while B held it, then B
 * updated in place at K, then B deleted or moved on): leaving the delete out would leave B's image
 * as K's last record, sending it would remove A.
 *
 * A transaction's changes may reach the destination in several writes (a batch is cut by size or
 * time, not at commits): the rows the open transaction put at each key are kept in memory across
 * writes, until its last change has been fed and a change of another transaction arrives. Nothing
 * is durable, and nothing needs to be: every answer is a function of the transaction's earlier
 * changes only, so it is re-derived whenever they are fed again —
 * - a write retried with the same changes (or a merged write repeating its last part) is answered
 *   from the positions recorded since the first change of the latest write ({@link observe});
 * - a replay from the checkpoint (after a crash, a retried step) starts at a transaction's first
 *   change, because a checkpoint never points inside a transaction: a change older than what is
 *   recorded restarts the tracking from it, and the transaction is derived again from its start.
 * Memory: the keys the open transaction moved rows into, plus the positions left out since the
 * latest write's first transaction.
 */
export class KeyMoveDeletes {
  private txn: string | null = null;
  /** Rows the open transaction put at each key and that are still there, oldest first. */
  private readonly placed = new Map<KeyId, Row[]>();
  /** Positions ({@link positionKey}) whose delete record is left out, of every change fed since `floor`. */
  private readonly kept = new Set<string>();
  /** Positions whose delete is for a key that may still hold its row from before the transaction: the departing row. */
  private readonly unsurePositions = new Map<string, Row>();
  /**
   * Keys whose row from before the open transaction has left them, or is tracked in `placed` since
   * an update in place (all of them after a truncate): their content is known.
   */
  private readonly originLeft = new Set<KeyId>();
  private truncated = false;
  /** Commit LSN of the first change of the latest write that went past `last`. */
  private floor = -1n;
  /** The last change fed. */
  private last: Pick<Change, 'commitLsn' | 'seq'> | null = null;

  /**
   * Feeds every change of one table, in stream order (also changes a watermark skips), and
   * returns the positions ({@link positionKey}) among them, and among the transaction's earlier
   * changes, whose delete record must be left out. `read` changes (backfill rows) are ignored.
   */
  observe(schema: TableSchema, changes: readonly Change[]): ReadonlySet<string> {
    if (schema.keyDeferrable !== true || schema.primaryKey.length === 0) return NONE;
    const idOf = keyIdOf(schema.primaryKey);
    let first: Change | undefined;
    let fedAny = false;
    for (const c of changes) {
      if (c.op === 'read') continue;
      first ??= c;
      if (this.last && !after(c, this.last)) {
        // Fed before: a retried write is answered from `kept`; a replay from further back (a
        // transaction's first change, see the class comment) derives everything again from it.
        if (c.commitLsn >= this.floor) continue;
        this.reset();
      }
      fedAny = true;
      this.feed(schema, idOf, c);
    }
    if (fedAny && first) {
      // What a later write may repeat starts at this write's first change.
      this.floor = first.commitLsn;
      for (const p of this.kept) if (BigInt(p.slice(0, p.indexOf('/'))) < this.floor) this.kept.delete(p);
      for (const p of this.unsurePositions.keys()) if (BigInt(p.slice(0, p.indexOf('/'))) < this.floor) this.unsurePositions.delete(p);
    }
    return this.kept;
  }

  /**
   * The positions, among the changes fed since the latest write's first transaction, whose delete
   * record is for a key that may still hold the row it held before the transaction (see the class
   * comment), with the departing row (its key is the key in question). Read after {@link observe}.
   */
  get unsure(): ReadonlyMap<string, Row> {
    return this.unsurePositions;
  }

  private feed(schema: TableSchema, idOf: (row: Row) => KeyId, c: Change): void {
    this.last = c;
    const txn = transactionKey(c);
    if (txn !== this.txn) {
      this.placed.clear();
      this.originLeft.clear();
      this.truncated = false;
      this.txn = txn;
    }
    if (c.op === 'truncate') {
      this.placed.clear();
      this.truncated = true;
      return;
    }
    if (c.op === 'insert') {
      this.put(idOf(c.after!), c.after!);
      return;
    }
    const old = c.before ?? c.key;
    const oldId = idOf(old);
    const rows = this.placed.get(oldId);
    const i = rows ? rows.findIndex((r) => sameRow(schema, r, old)) : -1;
    // The key's latest record is the image of the last row put there: it may be the one leaving.
    const lastLeaves = rows !== undefined && rows.length > 0 && sameRow(schema, rows[rows.length - 1]!, old);
    if (rows && i >= 0) rows.splice(i, 1);
    else this.originLeft.add(oldId);
    const image = c.op === 'update' && c.after ? { ...(c.before ?? {}), ...c.after } : undefined;
    const staysAtKey = image !== undefined && idOf(image) === oldId;
    // The key still holds a row this transaction put there, whose image (sent earlier) is its
    // latest record, and which outlives this change's delete.
    if (rows && rows.length > 0 && (!lastLeaves || staysAtKey)) this.kept.add(positionKey(c));
    // The key still holds such a row, but the latest record of the key is the image of the row
    // leaving it (B updated in place at K after A moved in, then B leaves): its delete would
    // drop A, and no delete leaves B's image. The key's row is read from the source.
    else if (rows && rows.length > 0) this.unsurePositions.set(positionKey(c), old);
    // A row this transaction put there leaves the key: whatever was there before may still be.
    else if (i >= 0 && !this.truncated && !this.originLeft.has(oldId) && !staysAtKey) this.unsurePositions.set(positionKey(c), old);
    if (image) this.put(idOf(image), image);
  }

  private put(id: KeyId, row: Row): void {
    const rows = this.placed.get(id);
    if (rows) rows.push(row);
    else this.placed.set(id, [row]);
  }

  private reset(): void {
    this.txn = null;
    this.placed.clear();
    this.kept.clear();
    this.unsurePositions.clear();
    this.originLeft.clear();
    this.truncated = false;
    this.last = null;
    this.floor = -1n;
  }
}

/** What {@link KeyMoveTables.observe} says about the changes of the batch it was fed. */
export interface KeyMoveAnswer {
  /** Whether the change's delete record (its own, or its old key's) is left out. */
  kept(c: Change): boolean;
  /**
   * For a change whose delete record is for a key that may still hold the row it held before the
   * transaction: the departing row (its key is that key); else undefined. See {@link KeyMoveDeletes}.
   */
  unsure(c: Change): Row | undefined;
}

/**
 * One {@link KeyMoveDeletes} per table, for destinations that write whole batches (Kafka, HTTP):
 * keep one instance per destination for its lifetime and feed it every batch written, in order.
 */
export class KeyMoveTables {
  private readonly tables = new Map<string, KeyMoveDeletes>();

  /** Feeds `batch` (every change, in order) and answers for its changes. */
  observe(batch: Batch): KeyMoveAnswer {
    let deferrable = false;
    for (const s of batch.schemas.values()) deferrable ||= s.keyDeferrable === true;
    if (!deferrable) return NOTHING;
    const kept = new Map<string, ReadonlySet<string>>();
    const unsure = new Map<string, ReadonlyMap<string, Row>>();
    for (const [key, changes] of groupByTable(batch.changes)) {
      const schema = batch.schemas.get(key);
      if (schema?.keyDeferrable !== true) continue;
      let moves = this.tables.get(key);
      if (!moves) this.tables.set(key, (moves = new KeyMoveDeletes()));
      const set = moves.observe(schema, changes);
      if (set.size > 0) kept.set(key, set);
      if (moves.unsure.size > 0) unsure.set(key, moves.unsure);
    }
    if (kept.size === 0 && unsure.size === 0) return NOTHING;
    return {
      kept: (c) => kept.get(tableKey(c.table))?.has(positionKey(c)) === true,
      unsure: (c) => unsure.get(tableKey(c.table))?.get(positionKey(c)),
    };
  }
}

/** A change's stream position as text (what {@link KeyMoveDeletes.observe} returns). */
export function positionKey(c: Pick<Change, 'commitLsn' | 'seq'>): string {
  return `${c.commitLsn.toString()}/${c.seq}`;
}

/** True when `row` holds `old`'s value in every column both have. */
export function sameRow(schema: TableSchema, row: Row, old: Row): boolean {
  for (const col of schema.columns) {
    if (old[col.name] === undefined || row[col.name] === undefined) continue;
    const id = keyIdOf([col.name]);
    if (id(row) !== id(old)) return false;
  }
  return true;
}

const NONE: ReadonlySet<string> = new Set();
const NOTHING: KeyMoveAnswer = { kept: () => false, unsure: () => undefined };

function after(c: Pick<Change, 'commitLsn' | 'seq'>, last: Pick<Change, 'commitLsn' | 'seq'>): boolean {
  return c.commitLsn > last.commitLsn || (c.commitLsn === last.commitLsn && c.seq > last.seq);
}
