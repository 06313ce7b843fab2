import type { Change } from '../../core/change';
import type { TableLayout } from './layout';
import type { PlannedRow, TablePlan } from './plan';
import { keylessError, mergeImage, newKeyOf, oldKeyOf, type Image } from './plan-rows';
import { keyIdOf, type KeyId } from './row-key';

/** Append mode: one row per change, each with the row's image after it (deletes flagged). */
export function planAppend(layout: TableLayout, changes: Change[]): TablePlan {
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

/** A table without a key: inserts, and with REPLICA IDENTITY FULL a removal of one equal row per update or delete. */
export function planKeyless(layout: TableLayout, changes: Change[]): TablePlan {
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
