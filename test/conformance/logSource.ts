/**
 * The source's current rows as a scenario's change log implies them: what the suite gives a
 * destination as its `sourceRows` (the worker gives the real source's, read by key), so a
 * destination that completes unchanged TOAST values from the source can run the scenarios.
 */
import { tableKey, type Row, type TableSchema } from '../../src/core/change';
import type { SourceRowReader } from '../../src/core/sourceRows';
import type { ChangeLog } from '../support/changes';

const keyText = (schema: TableSchema, row: Row): string =>
  JSON.stringify(
    schema.primaryKey.map((k) => row[k] ?? null),
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );

export function changeLogRowReader(log: ChangeLog): SourceRowReader {
  return {
    rowsByKey(schema, keys) {
      const rows = new Map<string, Row>();
      for (const c of log.all) {
        if (tableKey(c.table) !== tableKey(schema)) continue;
        if (c.op === 'truncate') rows.clear();
        else if (c.op === 'delete') rows.delete(keyText(schema, c.before ?? c.key));
        else if (c.after) {
          const old = c.before ? keyText(schema, c.before) : keyText(schema, c.after);
          const previous = rows.get(old) ?? {};
          rows.delete(old);
          rows.set(keyText(schema, c.after), { ...previous, ...c.after });
        }
      }
      const found: Row[] = [];
      for (const k of keys) {
        const row = rows.get(keyText(schema, k));
        if (row) found.push(row);
      }
      return Promise.resolve(found);
    },
    close: () => Promise.resolve(),
  };
}
