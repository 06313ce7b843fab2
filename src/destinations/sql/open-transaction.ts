import { transactionKey as txnOf, type Change, type Row } from '../../core/change';
import type { TableLayout } from './layout';
import type { PlannedRow } from './plan';
import { planDeferrable, sameValues } from './plan-deferrable';
import { oldKeyOf } from './plan-rows';
import { keyIdOf, type KeyId } from './row-key';

/**
 * What earlier writes of a transaction that is still open left in one destination table of a
 * DEFERRABLE key: per key, the image the destination now holds there (null: deleted), as planned
 * from the stream. A transaction's changes may reach the destination in several writes (a batch
 * is cut by size, not at commits), and inside it a key may hold two rows for a while (a swap: 1
 * moves to 2 before 2 moves to 1). When the cut falls between the two updates, the first write
 * puts 1's row at key 2 and the second write's update of "the row at 2" is about the row that was
 * there before, not the one the first write put there: stream order says which image is the later
 * one at the key, so that update must not delete it ({@link OpenTransactionImages.replaced}).
 *
 * Kept in memory between writes; after a restart the stream is replayed from the transaction's
 * start (a checkpoint is never inside a transaction), and the changes the watermark skips rebuild
 * the images ({@link OpenTransactionImages.rebuild}). Holds the keys of one transaction at a time.
 */
export class OpenTransactionImages {
  private txn: string | null = null;
  private readonly images = new Map<KeyId, Row | null>();
  /** `seq` of the last change of `txn` the images take in. */
  private seen = -1;

  /** True when the images are those of `c`'s transaction. */
  follows(c: Change): boolean {
    return this.txn === txnOf(c);
  }

  /**
   * Takes in `skipped` (changes the watermark skips, in stream order: a replay after a restart, or
   * a batch written again): the images the changes of its last transaction left, re-planned.
   */
  rebuild(layout: TableLayout, skipped: readonly Change[]): void {
    const last = skipped.at(-1);
    if (!last) return;
    const txn = txnOf(last);
    if (this.txn !== txn) {
      this.reset();
      this.txn = txn;
    }
    // Changes taken in already (a batch written again in this process) are not planned twice.
    const ofTxn = skipped.filter((c) => txnOf(c) === txn && c.seq > this.seen);
    if (ofTxn.length === 0) return;
    this.record(layout, planDeferrable(layout, ofTxn, undefined).rows);
    this.seen = last.seq;
  }

  /**
   * The changes of `changes` (the continued changes of the transaction these images belong to,
   * each with its full old row) whose old key holds, by an earlier write of their transaction,
   * another row than theirs: later in stream order than the row they update, so they must not
   * take or delete it.
   */
  replaced(layout: TableLayout, changes: readonly Change[]): Set<Change> {
    const out = new Set<Change>();
    if (changes.length === 0 || !this.follows(changes[0]!)) return out;
    const idOf = keyIdOf(layout.key);
    for (const c of changes) {
      const image = this.images.get(idOf(oldKeyOf(layout, c)));
      if (image && c.before && !sameValues(layout, image, c.before)) out.add(c);
    }
    return out;
  }

  /**
   * After a write of `changes` planned as `rows`: keeps the images of the write's last
   * transaction when it is still open (its Commit had not arrived: `commitEndLsn` 0), else
   * forgets everything.
   */
  written(layout: TableLayout, changes: readonly Change[], rows: readonly PlannedRow[]): void {
    const last = changes.at(-1);
    if (!last || last.commitEndLsn !== 0n) {
      this.reset();
      return;
    }
    const txn = txnOf(last);
    if (this.txn !== txn) {
      this.reset();
      this.txn = txn;
    }
    this.record(
      layout,
      rows.filter((r) => txnOf(r.change) === txn),
    );
    this.seen = last.seq;
  }

  private record(layout: TableLayout, rows: readonly PlannedRow[]): void {
    const idOf = keyIdOf(layout.key);
    for (const r of rows) {
      if (r.action === 'upsert' && !r.deleted) this.images.set(idOf(r.values), r.values);
      else if (r.action === 'delete' || r.action === 'upsert' || r.action === 'soft_delete') this.images.set(idOf(r.values), null);
    }
  }

  private reset(): void {
    this.txn = null;
    this.seen = -1;
    this.images.clear();
  }
}
