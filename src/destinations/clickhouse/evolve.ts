import type { EvolveTable } from '../sql/apply-strategy';
import { evolutionStatements, type AlterSyntax } from '../sql/schema-evolution';
import type { ClickhouseConnection } from './client';
import type { ClickhouseApplyMode } from './config';
import { rebuildClickhouseTable } from './rebuild';
import { columnType, clickhouseTypes, quoteIdent, quoteString } from './types';

const q = quoteIdent;

/** Types that NULL cannot be written into as they are (wrapped in `Nullable` to keep a dropped column). */
const NULLABLE_ALREADY = /^(Nullable|Variant|LowCardinality\(Nullable|Dynamic|JSON)\b/i;

/** A new column type shaped like the existing one: `Nullable(…)` and `Variant(…)` wrappers are kept. */
function like(existing: string, type: string): string {
  if (/^Nullable\(/i.test(existing)) return columnType(type, { nullable: true }, false);
  if (/^Variant\(/i.test(existing)) return /^Array\b/.test(type) ? `Variant(${type})` : columnType(type, { nullable: true }, false);
  return type;
}

/**
 * The `evolution` of a ClickHouse table (see `schema-evolution.ts` for the policy): `ADD COLUMN IF
 * NOT EXISTS` (always nullable: rows written before have no value), `RENAME COLUMN`, `MODIFY
 * COLUMN` to the new type keeping the column's nullability, `DROP COLUMN` with
 * `ddl_drop_columns=true`; otherwise a dropped column is kept and, when it was not nullable (a NOT
 * NULL source column), becomes `Nullable(T)` so new rows hold NULL rather than the type's default.
 * Each statement runs with `mutations_sync=2`/`alter_sync=2`, so the change is complete when it
 * returns; every statement is guarded by the table's columns as read first, so a repeat after a
 * crash half-way converges. A primary key change, or a retype of a column in the current or the
 * new key (ClickHouse does not alter sorting-key columns in place), rebuilds the table after the
 * ALTERs ({@link rebuildClickhouseTable}). ClickHouse refuses to rename sorting-key columns: such
 * a change fails with ClickHouse's reason (`never`), failing its event.
 */
export async function evolveClickhouseTable(conn: ClickhouseConnection, input: EvolveTable, mode: ClickhouseApplyMode): Promise<void> {
  const t = input.table;
  const rows = await conn.rows(
    `SELECT name, type, is_in_sorting_key AS k FROM system.columns WHERE database = ${quoteString(t.schema)} AND table = ${quoteString(t.name)} ORDER BY position`,
  );
  if (rows.length === 0) return;
  const types = new Map(rows.map((r) => [String(r.name), String(r.type)]));
  const keys = new Set(rows.filter((r) => Number(r.k) === 1).map((r) => String(r.name)));
  const syntax: AlterSyntax = {
    addColumn: (tb, c, type) => `ALTER TABLE ${tb} ADD COLUMN IF NOT EXISTS ${q(c)} ${columnType(type, { nullable: true }, false)}`,
    renameColumn: (tb, from, to) => `ALTER TABLE ${tb} RENAME COLUMN IF EXISTS ${q(from)} TO ${q(to)}`,
    retypeColumn: (tb, c, type) => `ALTER TABLE ${tb} MODIFY COLUMN ${q(c)} ${like(types.get(c) ?? '', type)}`,
    dropColumn: (tb, c) => `ALTER TABLE ${tb} DROP COLUMN IF EXISTS ${q(c)}`,
    keepDroppedColumn: (tb, c) => {
      const type = types.get(c);
      if (type === undefined || keys.has(c) || NULLABLE_ALREADY.test(type)) return undefined;
      return `ALTER TABLE ${tb} MODIFY COLUMN ${q(c)} ${/^Array\b/.test(type) ? `Variant(${type})` : `Nullable(${type})`}`;
    },
  };
  const newKey = new Set(input.layout?.mode === 'target' ? input.layout.key : []);
  const retypes = new Set<string>();
  for (const c of input.change.changes) if (c.kind === 'retype_column' && (keys.has(c.column.name) || newKey.has(c.column.name))) retypes.add(c.column.name);
  const statements = evolutionStatements(clickhouseTypes, syntax, { ...input, existing: new Set(types.keys()), retypeInPlace: (c) => !retypes.has(c) });
  for (const sql of statements) await conn.command(sql, { mutations_sync: '2', alter_sync: '2' });
  await rebuildClickhouseTable(conn, input, mode, retypes);
}
