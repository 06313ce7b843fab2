import type { Change, Row } from '../../core/change';
import type { TableLayout } from './layout';
import type { PlannedRow, TablePlan } from './plan';
import { hasEvery, imageRow, mergeImage, newKeyOf, NO_COLUMNS, oldKeyOf, tombstoneRow, Tombstone, upsertRow, type Image } from './plan-rows';
import { keyIdOf, type KeyId } from './row-key';

/**
 * The rows at one key while a batch of a DEFERRABLE-key table is folded: the destination's row as it
 * was before the batch (until a change takes it away) and the rows the batch put there, oldest
 * first. Inside a transaction a deferred key may hold two rows at once (a swap moves 1 to 2 before
 * 2 moves to 1); at every commit it holds at most one.
 */
interface KeySlot {
  key: Row;
  /** The destination's row at this key is gone (taken by a change, truncated, or known absent). */
  baseGone: boolean;
  occupants: { row: PlannedRow; movedIn: boolean }[];
  /** The last row taken from this key: a delete at the end when nothing is left there. */
  removed: Tombstone | null;
}

/**
 * `planTarget` (plan-target.ts) for a table whose key is DEFERRABLE and whose batch changes keys. `held`: the
 * keys the destination holds before the batch (in step with the source, a key it lacks had no row
 * at the batch's start); unknown when undefined. A change at key K applies to one of the rows there: under REPLICA IDENTITY FULL the one equal to its old
 * values; else the destination's own row when the others were moved in by key changes of the same
 * transaction (one statement updates each row once, so `SET id = CASE ...` swaps and cycles take
 * the row that was at K before the statement), else the oldest row put there. A row left at K by a
 * committed transaction means the destination's row had gone. A transaction split over two writes:
 * `replaced` holds the changes (of the transaction this batch continues) whose full old row is not
 * the destination's row at their old key — an earlier write of the transaction already moved that
 * row away and another moved in (a swap cut between its two updates); such a change takes no
 * destination row and writes its full image (old row, then new values) at its new key.
 */
export function planDeferrable(
  layout: TableLayout,
  changes: Change[],
  held: ReadonlySet<KeyId> | undefined,
  replaced: ReadonlySet<Change> = NO_CHANGES,
): TablePlan {
  const slots = new Map<KeyId, KeySlot>();
  const idOf = keyIdOf(layout.key);
  let truncate: Change | null = null;
  const slotAt = (id: KeyId, key: () => Row): KeySlot => {
    let s = slots.get(id);
    if (!s) slots.set(id, (s = { key: key(), baseGone: truncate !== null || (held !== undefined && !held.has(id)), occupants: [], removed: null }));
    return s;
  };
  for (const c of changes) {
    if (c.op === 'truncate') {
      slots.clear();
      truncate = c;
      continue;
    }
    if (c.op === 'insert') {
      const key = newKeyOf(layout, c, null);
      slotAt(idOf(key), () => key).occupants.push({ row: upsertRow(c.after!, NO_COLUMNS, null, c), movedIn: false });
      continue;
    }
    const oldKey = oldKeyOf(layout, c);
    const oldId = idOf(oldKey);
    const taken = takeRow(
      layout,
      slotAt(oldId, () => oldKey),
      c,
      replaced.has(c),
    );
    if (c.op === 'delete') continue;
    const row = hasEvery(c.after!, layout) ? upsertRow(c.after!, NO_COLUMNS, null, c) : imageRow(mergeImage(layout, taken.image, c), c);
    const newKey = newKeyOf(layout, c, oldKey);
    const newId = idOf(newKey);
    slotAt(newId, () => newKey).occupants.push({ row, movedIn: newId !== oldId || taken.movedIn });
  }
  const rows: PlannedRow[] = [];
  for (const s of slots.values()) {
    const live = s.occupants.at(-1);
    if (live) rows.push(live.row);
    else if (s.baseGone && s.removed) rows.push(tombstoneRow(layout, s.removed));
  }
  return { truncate, rows, last: changes.at(-1) ?? null, onlyInserts: false, onlyUpdates: false };
}

const NO_CHANGES: ReadonlySet<Change> = new Set();

/**
 * Takes the row a change at `s`'s key applies to (see {@link planDeferrable}); returns its image.
 * `replaced`: the destination's row at the key is not the change's (never taken).
 */
function takeRow(layout: TableLayout, s: KeySlot, c: Change, replaced: boolean): { image: Image; movedIn: boolean } {
  const occ = s.occupants;
  if (!s.baseGone && occ.some((o) => o.row.change.xid !== c.xid)) s.baseGone = true;
  let pick = -1;
  const full = layout.source.replicaIdentity === 'full' && c.before !== null ? c.before : null;
  if (occ.length > 0 && full) {
    // The old values say which row it is; none equal: the destination's row (if still there).
    pick = occ.findIndex((o) => sameValues(layout, o.row.values, full));
    if (pick < 0 && s.baseGone) pick = 0;
  } else if (occ.length > 0) {
    // A row inserted here is the one; rows moved in by this transaction's key changes are not.
    pick = s.baseGone ? 0 : occ.findIndex((o) => !o.movedIn);
  }
  if (pick >= 0) {
    const { row, movedIn } = occ.splice(pick, 1)[0]!;
    s.removed = new Tombstone(s.key, row, c);
    return { image: row, movedIn };
  }
  // The change's row left this key in an earlier write; the row there now stays.
  if (replaced && !s.baseGone) return { image: { values: {}, fill: NO_COLUMNS, fillFrom: null }, movedIn: false };
  if (!s.baseGone) {
    s.baseGone = true;
    s.removed = new Tombstone(s.key, null, c);
    return { image: { values: {}, fill: NO_COLUMNS, fillFrom: s.key }, movedIn: false };
  }
  // No row is known at this key (deleted earlier in the batch, or truncated): the change alone.
  s.removed = new Tombstone(s.key, s.removed?.image ?? null, c);
  return { image: { values: {}, fill: NO_COLUMNS, fillFrom: null }, movedIn: false };
}

/** True when `row` holds `old`'s value in every column `old` has (values compared as keys). */
export function sameValues(layout: TableLayout, row: Row, old: Row): boolean {
  for (const col of layout.columns) {
    const v = old[col.name];
    if (v === undefined || row[col.name] === undefined) continue;
    const id = keyIdOf([col.name]);
    if (id(row) !== id(old)) return false;
  }
  return true;
}
