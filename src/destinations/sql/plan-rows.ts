import { tableKey, type Change, type Row } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { TableLayout } from './layout';
import type { PlannedRow } from './plan';
import { keyIdOf } from './row-key';

/*
 * The pieces every planner (plan-target.ts, plan-deferrable.ts, plan-append.ts) builds its rows
 * from: row images, tombstones, and where a change's old and new keys come from.
 */

/** A row as this batch knows it: its values, and the columns to fill from the destination row at `fillFrom`. */
export interface Image {
  values: Row;
  fill: string[];
  fillFrom: Row | null;
}

export const NO_COLUMNS: string[] = [];

/** A row deleted in this batch: its old key, and its image before the delete (for soft deletes). */
export class Tombstone {
  constructor(
    readonly key: Row,
    readonly image: Image | null,
    readonly change: Change,
  ) {}
}

/** True when an update moves its row to another key. */
export function changesKey(layout: TableLayout, c: Change): boolean {
  if (c.op !== 'update') return false;
  const old = holdsKey(c.before, layout.key);
  if (!old || !c.after) return false;
  const idOf = keyIdOf(layout.key);
  return idOf(old) !== idOf(newKeyOf(layout, c, old));
}

export function imageRow(image: Image, change: Change): PlannedRow {
  return upsertRow(image.values, image.fill, image.fillFrom, change);
}

/** The planned row that removes a key: delete, or with soft deletes the last image flagged (or the flag alone). */
export function tombstoneRow(layout: TableLayout, t: Tombstone): PlannedRow {
  if (!layout.softDelete) return { action: 'delete', values: t.key, fill: NO_COLUMNS, fillFrom: null, change: t.change, deleted: true };
  if (t.image) return { action: 'upsert', values: t.image.values, fill: t.image.fill, fillFrom: t.image.fillFrom, change: t.change, deleted: true };
  return { action: 'soft_delete', values: t.key, fill: NO_COLUMNS, fillFrom: null, change: t.change, deleted: true };
}

export function upsertRow(values: Row, fill: string[], fillFrom: Row | null, change: Change): PlannedRow {
  return { action: 'upsert', values, fill, fillFrom, change, deleted: false };
}

/** True when `row` holds a value (maybe NULL) for every column of the layout. */
export function hasEvery(row: Row, layout: TableLayout): boolean {
  const columns = layout.columns;
  for (let i = 0; i < columns.length; i++) if (row[columns[i]!.name] === undefined) return false;
  return true;
}

/** The image after `c` on top of `base`: the full old row (REPLICA IDENTITY FULL), then `after`. */
export function mergeImage(layout: TableLayout, base: Image, c: Change): Image {
  const full = layout.source.replicaIdentity === 'full' && c.before !== null;
  const values: Row = { ...base.values, ...(full ? c.before : null), ...c.after };
  const fillFrom = base.fillFrom;
  const fill = fillFrom ? layout.columns.filter((col) => !(col.name in values)).map((col) => col.name) : [];
  return { values, fill, fillFrom };
}

export function holdsKey(row: Row | null, columns: string[]): Row | null {
  if (!row) return null;
  for (let i = 0; i < columns.length; i++) if (row[columns[i]!] === undefined) return null;
  return row;
}

export function pick(row: Row | null, columns: string[]): Row | null {
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
export function oldKeySource(layout: TableLayout, c: Change): Row {
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
export function newKeyOf(layout: TableLayout, c: Change, oldKey: Row | null): Row {
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

export function keylessError(layout: TableLayout, c: Change): DuctError {
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
