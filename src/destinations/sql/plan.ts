import { tableKey, type Change, type Row } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { TableLayout } from './layout';
import { keyIdOf, type KeyId } from './row-key';

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

interface Image {
  values: Row;
  fill: string[];
  fillFrom: Row | null;
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

const NO_COLUMNS: string[] = [];

/** A row deleted in this batch: its old key, and its image before the delete (for soft deletes). */
class Tombstone {
  constructor(
    readonly key: Row,
    readonly image: Image | null,
    readonly change: Change,
  ) {}
}

/**
 * Live rows are kept as the {@link PlannedRow} they will become (it is also their image for later
 * changes of the batch), so an insert or a complete update costs one object and one map entry.
 */
function planTarget(layout: TableLayout, changes: Change[]): TablePlan {
  const entries = new Map<KeyId, PlannedRow | Tombstone>();
  const idOf = keyIdOf(layout.key);
  let truncate: Change | null = null;
  let onlyInserts = true;
  let onlyUpdates = true;
  for (const c of changes) {
    if (c.op === 'truncate') {
      entries.clear();
      truncate = c;
      onlyUpdates = false;
      continue;
    }
    if (c.op === 'insert' || c.op === 'read') {
      // The image is the change's own row (never mutated).
      entries.set(idOf(c.after!), upsertRow(c.after!, NO_COLUMNS, null, c));
      onlyUpdates = false;
      continue;
    }
    onlyInserts = false;
    const oldSource = oldKeySource(layout, c);
    const oldId = idOf(oldSource);
    const prev = entries.get(oldId);
    const prevImage = prev instanceof Tombstone ? prev.image : (prev ?? null);
    if (c.op === 'delete') {
      entries.set(oldId, new Tombstone(pick(oldSource, layout.key)!, prevImage, c));
      onlyUpdates = false;
      continue;
    }
    let row: PlannedRow;
    if (hasEvery(c.after!, layout)) {
      // Every column is in the new row: it is the image, nothing to fill.
      row = upsertRow(c.after!, NO_COLUMNS, null, c);
    } else {
      // The row as it stands before this change: this batch's image of it, or the destination's row.
      const base: Image = prev
        ? ((prev instanceof Tombstone ? null : prev) ?? { values: {}, fill: NO_COLUMNS, fillFrom: null })
        : { values: {}, fill: NO_COLUMNS, fillFrom: truncate ? null : pick(oldSource, layout.key) };
      const image = mergeImage(layout, base, c);
      row = upsertRow(image.values, image.fill, image.fillFrom, c);
    }
    const newId = layout.key.length === 1 && c.after![layout.key[0]!] != null ? idOf(c.after!) : idOf(newKeyOf(layout, c, pick(oldSource, layout.key)));
    if (newId !== oldId) {
      entries.set(oldId, new Tombstone(pick(oldSource, layout.key)!, prevImage, c));
      onlyUpdates = false;
    }
    entries.set(newId, row);
  }
  const rows: PlannedRow[] = [];
  for (const e of entries.values()) rows.push(e instanceof Tombstone ? tombstoneRow(layout, e) : e);
  return { truncate, rows, last: changes.at(-1) ?? null, onlyInserts, onlyUpdates };
}

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
 * {@link planTarget} for a table whose key is DEFERRABLE and whose batch changes keys. `held`: the
 * keys the destination holds before the batch (in step with the source, a key it lacks had no row
 * at the batch's start); unknown when undefined. A change at key K applies to one of the rows there: under REPLICA IDENTITY FULL the one equal to its old
 * values; else the destination's own row when the others were moved in by key changes of the same
 * transaction (one statement updates each row once, so `SET id = CASE ...` swaps and cycles take
 * the row that was at K before the statement), else the oldest row put there. A row left at K by a
 * committed transaction means the destination's row had gone. Changes of one transaction split over
 * two writes cannot be folded this way (see the README, key changes).
 */
function planDeferrable(layout: TableLayout, changes: Change[], held: ReadonlySet<KeyId> | undefined): TablePlan {
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

/** Takes the row a change at `s`'s key applies to (see {@link planDeferrable}); returns its image. */
function takeRow(layout: TableLayout, s: KeySlot, c: Change): { image: Image; movedIn: boolean } {
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
function sameValues(layout: TableLayout, row: Row, old: Row): boolean {
  for (const col of layout.columns) {
    const v = old[col.name];
    if (v === undefined || row[col.name] === undefined) continue;
    const id = keyIdOf([col.name]);
    if (id(row) !== id(old)) return false;
  }
  return true;
}

/** True when an update moves its row to another key. */
function changesKey(layout: TableLayout, c: Change): boolean {
  if (c.op !== 'update') return false;
  const old = holdsKey(c.before, layout.key);
  if (!old || !c.after) return false;
  const idOf = keyIdOf(layout.key);
  return idOf(old) !== idOf(newKeyOf(layout, c, old));
}

function imageRow(image: Image, change: Change): PlannedRow {
  return upsertRow(image.values, image.fill, image.fillFrom, change);
}

/** The planned row that removes a key: delete, or with soft deletes the last image flagged (or the flag alone). */
function tombstoneRow(layout: TableLayout, t: Tombstone): PlannedRow {
  if (!layout.softDelete) return { action: 'delete', values: t.key, fill: NO_COLUMNS, fillFrom: null, change: t.change, deleted: true };
  if (t.image) return { action: 'upsert', values: t.image.values, fill: t.image.fill, fillFrom: t.image.fillFrom, change: t.change, deleted: true };
  return { action: 'soft_delete', values: t.key, fill: NO_COLUMNS, fillFrom: null, change: t.change, deleted: true };
}

function upsertRow(values: Row, fill: string[], fillFrom: Row | null, change: Change): PlannedRow {
  return { action: 'upsert', values, fill, fillFrom, change, deleted: false };
}

/** True when `row` holds a value (maybe NULL) for every column of the layout. */
function hasEvery(row: Row, layout: TableLayout): boolean {
  const columns = layout.columns;
  for (let i = 0; i < columns.length; i++) if (row[columns[i]!.name] === undefined) return false;
  return true;
}

function planAppend(layout: TableLayout, changes: Change[]): TablePlan {
  const images = new Map<KeyId, Image>();
  const idOf = keyIdOf(layout.key);
  const keyed = layout.key.length > 0;
  let truncated = false;
  const rows: PlannedRow[] = [];
  for (const c of changes) {
    if (c.op === 'truncate') {
      images.clear();
      truncated = true;
      rows.push({ action: 'append', values: {}, fill: [], fillFrom: null, change: c, deleted: false });
      continue;
    }
    if (c.op === 'insert' || c.op === 'read') {
      const image: Image = { values: { ...c.after }, fill: [], fillFrom: null };
      if (keyed) images.set(idOf(newKeyOf(layout, c, null)), image);
      rows.push({ action: 'append', ...image, change: c, deleted: false });
      continue;
    }
    const oldKey = keyed ? oldKeyOf(layout, c) : null;
    const prev = oldKey ? images.get(idOf(oldKey)) : undefined;
    const base: Image = prev ?? { values: {}, fill: [], fillFrom: truncated ? null : oldKey };
    if (oldKey) images.delete(idOf(oldKey));
    if (c.op === 'delete') {
      const image = mergeImage(layout, base, { ...c, after: oldKey ?? {} });
      rows.push({ action: 'append', ...image, change: c, deleted: true });
      continue;
    }
    const image = mergeImage(layout, base, c);
    if (keyed) images.set(idOf(newKeyOf(layout, c, oldKey)), image);
    rows.push({ action: 'append', ...image, change: c, deleted: false });
  }
  return { truncate: null, rows, last: changes.at(-1) ?? null, onlyInserts: false, onlyUpdates: false };
}

function planKeyless(layout: TableLayout, changes: Change[]): TablePlan {
  let rows: PlannedRow[] = [];
  let truncate: Change | null = null;
  for (const c of changes) {
    if (c.op === 'truncate') {
      rows = [];
      truncate = c;
      continue;
    }
    if (c.op === 'insert' || c.op === 'read') {
      rows.push({ action: 'insert', values: { ...c.after }, fill: [], fillFrom: null, change: c, deleted: false });
      continue;
    }
    if (layout.source.replicaIdentity !== 'full' || !c.before) throw keylessError(layout, c);
    rows.push({ action: 'delete_one', values: c.before, fill: [], fillFrom: null, change: c, deleted: true });
    if (c.op === 'update') rows.push({ action: 'insert', values: { ...c.before, ...c.after }, fill: [], fillFrom: null, change: c, deleted: false });
    else if (layout.softDelete) rows.push({ action: 'insert', values: { ...c.before }, fill: [], fillFrom: null, change: c, deleted: true });
  }
  return { truncate, rows, last: changes.at(-1) ?? null, onlyInserts: false, onlyUpdates: false };
}

/** The image after `c` on top of `base`: the full old row (REPLICA IDENTITY FULL), then `after`. */
function mergeImage(layout: TableLayout, base: Image, c: Change): Image {
  const full = layout.source.replicaIdentity === 'full' && c.before !== null;
  const values: Row = { ...base.values, ...(full ? c.before : null), ...c.after };
  const fillFrom = base.fillFrom;
  const fill = fillFrom ? layout.columns.filter((col) => !(col.name in values)).map((col) => col.name) : [];
  return { values, fill, fillFrom };
}

function holdsKey(row: Row | null, columns: string[]): Row | null {
  if (!row) return null;
  for (let i = 0; i < columns.length; i++) if (row[columns[i]!] === undefined) return null;
  return row;
}

function pick(row: Row | null, columns: string[]): Row | null {
  if (!row) return null;
  const out: Row = {};
  for (const k of columns) {
    const v = row[k];
    if (v === undefined) return null;
    out[k] = v;
  }
  return out;
}

/** The key of the row a change applies to before it: from `before` (a key change), else `key`. */
export function oldKeyOf(layout: TableLayout, c: Change): Row {
  return pick(oldKeySource(layout, c), layout.key)!;
}

/** The first of `before`, `key`, `after` that holds every key column: where {@link oldKeyOf} reads. */
function oldKeySource(layout: TableLayout, c: Change): Row {
  const k = holdsKey(c.before, layout.key) ?? holdsKey(c.key, layout.key) ?? holdsKey(c.after, layout.key);
  if (!k) {
    throw new DuctError('source_failed', `${c.op} on ${tableKey(c.table)} carries no value for its primary key (${layout.key.join(', ')})`, {
      retry: 'never',
      hint: "the source must send the primary key of every update and delete; check the table's REPLICA IDENTITY (DEFAULT or FULL)",
    });
  }
  return k;
}

/** The key after an insert or update: `after`'s key columns, with unchanged (TOAST) ones from the old key. */
function newKeyOf(layout: TableLayout, c: Change, oldKey: Row | null): Row {
  const out: Row = {};
  for (const k of layout.key) {
    const v = c.after?.[k] ?? oldKey?.[k] ?? c.key[k];
    if (v === undefined) {
      throw new DuctError('source_failed', `${c.op} on ${tableKey(c.table)} carries no value for primary key column "${k}"`, { retry: 'never' });
    }
    out[k] = v;
  }
  return out;
}

function keylessError(layout: TableLayout, c: Change): DuctError {
  const t = tableKey(layout.source);
  return new DuctError(
    'failed_precondition',
    `cannot apply ${c.op} to ${layout.target.schema}.${layout.target.name}: source table ${t} has no primary key and REPLICA IDENTITY ${layout.source.replicaIdentity.toUpperCase()}`,
    {
      retry: 'never',
      hint: `add a primary key to ${t}, or run ALTER TABLE ${t} REPLICA IDENTITY FULL on the source so rows can be matched on all old values`,
    },
  );
}
