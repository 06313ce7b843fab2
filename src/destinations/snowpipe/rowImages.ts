import { tableKey, type Change, type Row, type TableSchema } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SourceRowReader } from '../../core/sourceRows';
import { readLackingFromSource, withSourceValues } from '../sourceFill';
import { keyIdOf, type KeyId } from '../sql/row-key';

/**
 * Completes row images for an append-only file, which has no earlier row to take values from.
 * A delete that carries only the key gets the batch's latest image of the row as its old row, when
 * the batch has one (otherwise it stays the key). Unchanged TOAST values of updates come first
 * from the same key's latest image earlier in `changes`, else from the source's current row by key (`readLackingFromSource`: can be newer than the change;
 * the later change that made it newer follows in the stream). An update whose row the source no longer has is left out (its
 * delete follows). Without a source reader such an update stops the table with the reason (`never`):
 * a file never carries NULL for a value the source had.
 *
 * Returns `changes` itself when nothing needed completing; otherwise a copy with completed images.
 */
export async function completeRowImages(
  schema: TableSchema,
  changes: readonly Change[],
  reader: SourceRowReader | undefined,
  log: Logger,
): Promise<readonly Change[]> {
  if (!changes.some((c) => (c.op === 'update' && c.unchangedToast.length > 0) || (c.op === 'delete' && c.before === null))) return changes;
  const key = schema.primaryKey;
  const idOf = keyIdOf(key);
  const latest = new Map<KeyId, Row>();
  const out: (Change | null)[] = [];
  const lacking: number[] = [];
  for (const c of changes) {
    if (c.op === 'truncate') latest.clear();
    else if (c.op === 'delete') {
      // A delete carries only the key (without REPLICA IDENTITY FULL): the batch's image of the row, when it has one, is the old row.
      const id = idOf(c.before ?? c.key);
      const previous = latest.get(id);
      latest.delete(id);
      out.push(c.before === null && previous ? { ...c, before: previous } : c);
      continue;
    } else if (c.after) {
      let after = c.after;
      if (c.op === 'update' && c.unchangedToast.length > 0) {
        const previous = latest.get(idOf(c.before ?? after));
        if (previous && c.unchangedToast.every((n) => n in previous)) {
          after = { ...after };
          for (const n of c.unchangedToast) after[n] = previous[n] ?? null;
        } else lacking.push(out.length);
      }
      if (c.before) latest.delete(idOf(c.before));
      latest.set(idOf(after), after);
      out.push(after === c.after ? c : { ...c, after, unchangedToast: [] });
      continue;
    }
    out.push(c);
  }
  if (lacking.length === 0) return out as Change[];
  const first = out[lacking[0]!]!;
  const current = await readLackingFromSource(
    {
      schema,
      key,
      rows: lacking,
      keyOf: (i) => Object.fromEntries(key.map((k) => [k, out[i]!.after![k] ?? null])),
      columns: [...new Set(lacking.flatMap((i) => out[i]!.unchangedToast))],
      unknown: () => unknownToast(schema, lacking.length, first),
    },
    reader,
    log,
  );
  for (const i of lacking) {
    const c = out[i]!;
    const src = current.get(i);
    out[i] = src ? { ...c, after: withSourceValues(c.after!, c.unchangedToast, src), unchangedToast: [] } : null;
  }
  return out.filter((c): c is Change => c !== null);
}

function unknownToast(schema: TableSchema, count: number, first: Change): DuctError {
  const t = tableKey(schema);
  return new DuctError(
    'failed_precondition',
    `${count} update(s) of ${t} leave column(s) ${first.unchangedToast.join(', ')} unchanged (TOAST) and the batch holds no earlier image of the row: their values are unknown, and writing NULL would be wrong`,
    {
      retry: 'never',
      hint: `run the flow with its source (the worker reads such values by key), or run ALTER TABLE ${t} REPLICA IDENTITY FULL on the source so updates carry every value`,
    },
  );
}
