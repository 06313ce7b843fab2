import type { Change } from '../../core/change';
import type { TableLayout } from './layout';
import type { PlannedRow, TablePlan } from './plan';
import { hasEvery, mergeImage, newKeyOf, NO_COLUMNS, oldKeySource, pick, tombstoneRow, Tombstone, upsertRow, type Image } from './plan-rows';
import { keyIdOf, type KeyId } from './row-key';

/**
 * Live rows are kept as the {@link PlannedRow} they will become (it is also their image for later
 * changes of the batch), so an insert or a complete update costs one object and one map entry.
 */
export function planTarget(layout: TableLayout, changes: Change[]): TablePlan {
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
