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
export function planTable(layout: TableLayout, changes: Change[]): TablePlan {
  if (layout.mode === 'append') return planAppend(layout, changes);
  if (layout.key.length === 0) return planKeyless(layout, changes);
  return planTarget(layout, changes);
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
  for (const e of entries.values()) {
    if (!(e instanceof Tombstone)) rows.push(e);
    else if (!layout.softDelete) rows.push({ action: 'delete', values: e.key, fill: NO_COLUMNS, fillFrom: null, change: e.change, deleted: true });
    else if (e.image) rows.push({ action: 'upsert', values: e.image.values, fill: e.image.fill, fillFrom: e.image.fillFrom, change: e.change, deleted: true });
    else rows.push({ action: 'soft_delete', values: e.key, fill: NO_COLUMNS, fillFrom: null, change: e.change, deleted: true });
  }
  return { truncate, rows, last: changes.at(-1) ?? null, onlyInserts, onlyUpdates };
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
