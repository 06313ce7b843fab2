import { tableKey, type Change, type Row, type Value } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { TableLayout } from './layout';

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

function planTarget(layout: TableLayout, changes: Change[]): TablePlan {
  type Entry = { key: Row | null; image: Image | null; deleted: boolean; change: Change };
  const entries = new Map<string, Entry>();
  let truncate: Change | null = null;
  for (const c of changes) {
    if (c.op === 'truncate') {
      entries.clear();
      truncate = c;
      continue;
    }
    if (c.op === 'insert') {
      // Hot path: no key object, the image is the change's own row (never mutated).
      entries.set(keyString(layout, c.after!), { key: null, image: { values: c.after!, fill: NO_COLUMNS, fillFrom: null }, deleted: false, change: c });
      continue;
    }
    const oldKey = oldKeyOf(layout, c);
    const oldString = keyString(layout, oldKey);
    const prev = entries.get(oldString);
    if (c.op === 'delete') {
      entries.set(oldString, { key: oldKey, image: prev?.image ?? null, deleted: true, change: c });
      continue;
    }
    // The row as it stands before this change: this batch's image of it, or the destination's row.
    const base: Image = prev
      ? (!prev.deleted && prev.image) || { values: {}, fill: NO_COLUMNS, fillFrom: null }
      : { values: {}, fill: NO_COLUMNS, fillFrom: truncate ? null : oldKey };
    const image = mergeImage(layout, base, c);
    const newString = keyString(layout, newKeyOf(layout, c, oldKey));
    if (newString !== oldString) entries.set(oldString, { key: oldKey, image: prev?.image ?? null, deleted: true, change: c });
    entries.set(newString, { key: null, image, deleted: false, change: c });
  }
  const rows: PlannedRow[] = [];
  for (const e of entries.values()) {
    if (!e.deleted) rows.push({ action: 'upsert', ...e.image!, change: e.change, deleted: false });
    else if (!layout.softDelete) rows.push({ action: 'delete', values: e.key!, fill: NO_COLUMNS, fillFrom: null, change: e.change, deleted: true });
    else if (e.image) rows.push({ action: 'upsert', ...e.image, change: e.change, deleted: true });
    else rows.push({ action: 'soft_delete', values: e.key!, fill: NO_COLUMNS, fillFrom: null, change: e.change, deleted: true });
  }
  return { truncate, rows, last: changes.at(-1) ?? null };
}

function planAppend(layout: TableLayout, changes: Change[]): TablePlan {
  const images = new Map<string, Image>();
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
    if (c.op === 'insert') {
      const image: Image = { values: { ...c.after }, fill: [], fillFrom: null };
      if (keyed) images.set(keyString(layout, newKeyOf(layout, c, null)), image);
      rows.push({ action: 'append', ...image, change: c, deleted: false });
      continue;
    }
    const oldKey = keyed ? oldKeyOf(layout, c) : null;
    const prev = oldKey ? images.get(keyString(layout, oldKey)) : undefined;
    const base: Image = prev ?? { values: {}, fill: [], fillFrom: truncated ? null : oldKey };
    if (oldKey) images.delete(keyString(layout, oldKey));
    if (c.op === 'delete') {
      const image = mergeImage(layout, base, { ...c, after: oldKey ?? {} });
      rows.push({ action: 'append', ...image, change: c, deleted: true });
      continue;
    }
    const image = mergeImage(layout, base, c);
    if (keyed) images.set(keyString(layout, newKeyOf(layout, c, oldKey)), image);
    rows.push({ action: 'append', ...image, change: c, deleted: false });
  }
  return { truncate: null, rows, last: changes.at(-1) ?? null };
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
    if (c.op === 'insert') {
      rows.push({ action: 'insert', values: { ...c.after }, fill: [], fillFrom: null, change: c, deleted: false });
      continue;
    }
    if (layout.source.replicaIdentity !== 'full' || !c.before) throw keylessError(layout, c);
    rows.push({ action: 'delete_one', values: c.before, fill: [], fillFrom: null, change: c, deleted: true });
    if (c.op === 'update') rows.push({ action: 'insert', values: { ...c.before, ...c.after }, fill: [], fillFrom: null, change: c, deleted: false });
    else if (layout.softDelete) rows.push({ action: 'insert', values: { ...c.before }, fill: [], fillFrom: null, change: c, deleted: true });
  }
  return { truncate, rows, last: changes.at(-1) ?? null };
}

/** The image after `c` on top of `base`: the full old row (REPLICA IDENTITY FULL), then `after`. */
function mergeImage(layout: TableLayout, base: Image, c: Change): Image {
  const full = layout.source.replicaIdentity === 'full' && c.before !== null;
  const values: Row = { ...base.values, ...(full ? c.before : null), ...c.after };
  const fillFrom = base.fillFrom;
  const fill = fillFrom ? layout.columns.filter((col) => !(col.name in values)).map((col) => col.name) : [];
  return { values, fill, fillFrom };
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
  const k = pick(c.before, layout.key) ?? pick(c.key, layout.key) ?? pick(c.after, layout.key);
  if (!k) {
    throw new DuctError('source_failed', `${c.op} on ${tableKey(c.table)} carries no value for its primary key (${layout.key.join(', ')})`, {
      retry: 'never',
      hint: 'the source must send the primary key of every update and delete; check the table\'s REPLICA IDENTITY (DEFAULT or FULL)',
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

/** A string equal for equal keys: type-tagged, so 1 (int) and '1' (text) differ only if the source says so. */
function keyString(layout: TableLayout, row: Row): string {
  const key = layout.key;
  if (key.length === 1) return valueKey(row[key[0]!] ?? null);
  let out = '';
  for (let i = 0; i < key.length; i++) out += (i > 0 ? '\u0001' : '') + valueKey(row[key[i]!] ?? null);
  return out;
}

function valueKey(v: Value): string {
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return 'i' + String(v);
    case 'string':
      return 's' + v;
    case 'boolean':
      return v ? 'T' : 'F';
    default:
      if (v === null) return 'n';
      if (Buffer.isBuffer(v)) return 'x' + v.toString('hex');
      if (Array.isArray(v)) return '[' + v.map(valueKey).join(',') + ']';
      return 'o' + String(v);
  }
}

function keylessError(layout: TableLayout, c: Change): DuctError {
  const t = tableKey(layout.source);
  return new DuctError('failed_precondition', `cannot apply ${c.op} to ${layout.target.schema}.${layout.target.name}: source table ${t} has no primary key and REPLICA IDENTITY ${layout.source.replicaIdentity.toUpperCase()}`, {
    retry: 'never',
    hint: `add a primary key to ${t}, or run ALTER TABLE ${t} REPLICA IDENTITY FULL on the source so rows can be matched on all old values`,
  });
}
