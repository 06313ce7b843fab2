import type { Change, Row } from '../../core/change';
import type { TableLayout } from './layout';
import { planAppend, planKeyless } from './plan-append';
import { planDeferrable } from './plan-deferrable';
import { changesKey, newKeyOf, oldKeyOf } from './plan-rows';
import { planTarget } from './plan-target';
import { keyIdOf, type KeyId } from './row-key';

export { oldKeyOf } from './plan-rows';

/**
 * What one row of the load table asks the apply statements to do:
 * - `upsert`: write `values` at its key (target mode, table with a key);
 * - `delete`: remove the row whose key is `values`;
 * - `soft_delete`: set the deleted flag of the row whose key is `values`;
 * - `append`: add `values` as a new row (append mode);
 * - `insert` / `delete_one`: add a row / remove one row equal to `values` (tables without a key).
 */
export type PlannedAction = 'upsert' | 'delete' | 'soft_delete' | 'append' | 'insert' | 'delete_one';

export interface PlannedRow {
  action: PlannedAction;
  values: Row;
  /**
   * Columns absent from `values` (unchanged TOAST) whose value is the destination's current one:
   * taken from the destination row whose key is `fillFrom`, as it was before this batch.
   */
  fill: string[];
  fillFrom: Row | null;
  /** The last change folded into this row: its op, position and commit time fill metadata columns. */
  change: Change;
  /** Value of the soft-delete flag column. */
  deleted: boolean;
}

/** The net effect of one table's changes in a batch, ready to load and apply set-based. */
export interface TablePlan {
  /** Target mode: the batch truncates the table before `rows` (the last truncate; earlier rows are dropped). */
  truncate: Change | null;
  rows: PlannedRow[];
  /** The last change of the table in the batch: the new watermark. */
  last: Change | null;
  /**
   * Target mode: every change was an insert (or a truncate), so every row is new to the source
   * and a plain INSERT applies the plan unless the destination holds a key the source did not.
   */
  onlyInserts: boolean;
  /**
   * Target mode: every change was an update that kept its key, so every row existed in the source
   * and a plain UPDATE applies the plan unless the destination lacks one of them.
   */
  onlyUpdates: boolean;
}

/**
 * Folds one table's changes (in stream order, already past the watermark) into a plan. In target
 * mode several changes to one row collapse to the last; a key change deletes the old key and
 * writes the new one; unchanged TOAST columns keep the destination's value (or an earlier value
 * of this batch), including across key changes.
 */
export function planTable(layout: TableLayout, changes: Change[], held?: ReadonlySet<KeyId>): TablePlan {
  if (layout.mode === 'append') return planAppend(layout, changes);
  if (layout.key.length === 0) return planKeyless(layout, changes);
  if (needsHeldKeys(layout, changes)) return planDeferrable(layout, changes, held);
  return planTarget(layout, changes);
}

/**
 * True when planning `changes` goes better knowing which of their keys the destination holds
 * (see {@link keysOfChanges}): target mode, a DEFERRABLE key, and some update moving a row.
 */
export function needsHeldKeys(layout: TableLayout, changes: readonly Change[]): boolean {
  return layout.mode === 'target' && layout.key.length > 0 && layout.source.keyDeferrable === true && changes.some((c) => changesKey(layout, c));
}

/** Every distinct key the changes touch (old and new), as key rows. */
export function keysOfChanges(layout: TableLayout, changes: readonly Change[]): Row[] {
  const idOf = keyIdOf(layout.key);
  const out = new Map<KeyId, Row>();
  for (const c of changes) {
    if (c.op === 'truncate') continue;
    const old = c.op === 'insert' ? null : oldKeyOf(layout, c);
    if (old) out.set(idOf(old), old);
    if (c.op !== 'delete') {
      const k = newKeyOf(layout, c, old);
      out.set(idOf(k), k);
    }
  }
  return [...out.values()];
}
