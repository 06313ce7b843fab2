import { transactionKey, type Change, type Row, type TableSchema } from '../../core/change';
import { keyIdOf, type KeyId } from '../sql/row-key';

/**
 * Which delete records an append-only file must leave out so that a consumer replaying the
 * records in stream order (latest record per key wins, a delete removes the key) ends with the
 * source's rows, for a table with a DEFERRABLE key. Inside a transaction such a key may hold two
 * rows for a while: a swap moves 1 to 2 (a delete of 1, the row at 2) and then the row that was at
 * 2 to 1 — whose delete of key 2, later in stream order, would remove the row just moved there.
 * A delete (of a key change's old key, or a delete change) is left out when its key still holds a
 * row that the same transaction put there: that image is the later one.
 *
 * The rows a transaction put at each key are kept across writes while it is open (a batch is cut
 * by size, not at commits) and rebuilt from the changes a replay skips (a checkpoint is never
 * inside a transaction). Tables of other keys are not tracked.
 */
export class KeyMoveDeletes {
  private txn: string | null = null;
  /** Rows the open transaction put at each key and that are still there, oldest first. */
  private readonly placed = new Map<KeyId, Row[]>();
  /** Positions of the open transaction's changes whose delete record is left out. */
  private readonly kept = new Set<string>();
  /** The last change fed. */
  private last: Pick<Change, 'commitLsn' | 'seq'> | null = null;

  /**
   * Feeds every change of one table, in stream order (also those the watermark skips), and
   * returns the positions ({@link positionKey}) of the open transaction's changes whose delete
   * record must be left out.
   */
  observe(schema: TableSchema, changes: readonly Change[]): ReadonlySet<string> {
    if (schema.keyDeferrable !== true || schema.primaryKey.length === 0) return this.kept;
    const idOf = keyIdOf(schema.primaryKey);
    const out = new Set(this.kept);
    for (const c of changes) {
      // A batch written again (a retry) is not fed twice.
      if (this.last && (c.commitLsn < this.last.commitLsn || (c.commitLsn === this.last.commitLsn && c.seq <= this.last.seq))) continue;
      this.last = c;
      const txn = transactionKey(c);
      if (txn !== this.txn) {
        this.placed.clear();
        this.kept.clear();
        this.txn = txn;
      }
      if (c.op === 'truncate') {
        this.placed.clear();
        continue;
      }
      if (c.op === 'insert' || c.op === 'read') {
        this.put(idOf(c.after!), c.after!);
        continue;
      }
      const old = c.before ?? c.key;
      const oldId = idOf(old);
      const rows = this.placed.get(oldId);
      const i = rows ? rows.findIndex((r) => sameRow(schema, r, old)) : -1;
      if (rows && i >= 0) rows.splice(i, 1);
      // The key still holds a row this transaction put there: it outlives this change's delete.
      if (rows && rows.length > 0) {
        out.add(positionKey(c));
        this.kept.add(positionKey(c));
      }
      if (c.op === 'update' && c.after) {
        const image = { ...(c.before ?? {}), ...c.after };
        this.put(idOf(image), image);
      }
    }
    return out;
  }

  private put(id: KeyId, row: Row): void {
    const rows = this.placed.get(id);
    if (rows) rows.push(row);
    else this.placed.set(id, [row]);
  }
}

/** A change's stream position as text (what {@link KeyMoveDeletes.observe} returns). */
export function positionKey(c: Pick<Change, 'commitLsn' | 'seq'>): string {
  return `${c.commitLsn.toString()}/${c.seq}`;
}

/** True when `row` holds `old`'s value in every column both have. */
function sameRow(schema: TableSchema, row: Row, old: Row): boolean {
  for (const col of schema.columns) {
    if (old[col.name] === undefined || row[col.name] === undefined) continue;
    const id = keyIdOf([col.name]);
    if (id(row) !== id(old)) return false;
  }
  return true;
}
