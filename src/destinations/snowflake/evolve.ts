import type { TableSchema } from '../../core/change';
import type { EvolveTable } from '../sql/apply-strategy';
import { qualified, type QualifiedName, type SqlDialect } from '../sql/dialect';
import { tableLayout } from '../sql/layout';
import type { WarehouseOptions } from '../sql/options';
import { evolutionStatements, type AlterSyntax } from '../sql/schema-evolution';
import type { SnowflakeClient } from './client';
import { quoteIdent as q, snowflakeTypes } from './dialect';

/**
 * Snowflake's ALTER TABLE forms for schema evolution (columns are created nullable, so a kept
 * dropped column takes NULL as it is): `ADD COLUMN`, `RENAME COLUMN … TO`, `ALTER COLUMN … SET
 * DATA TYPE` and `DROP COLUMN`, as Snowflake's ALTER TABLE reference writes them.
 */
export const snowflakeAlterSyntax: AlterSyntax = {
  addColumn: (t, c, type) => `ALTER TABLE ${t} ADD COLUMN ${q(c)} ${type}`,
  renameColumn: (t, from, to) => `ALTER TABLE ${t} RENAME COLUMN ${q(from)} TO ${q(to)}`,
  retypeColumn: (t, c, type) => `ALTER TABLE ${t} ALTER COLUMN ${q(c)} SET DATA TYPE ${type}`,
  dropColumn: (t, c) => `ALTER TABLE ${t} DROP COLUMN ${q(c)}`,
};

/** Suffix of the column a retype fills before it replaces the old one. */
export const RETYPE_SUFFIX = '__ds_retype';

const VARCHAR = /^VARCHAR(\(\d+\))?$/;
const NUMBER = /^NUMBER\((\d+),(\d+)\)$/;

/**
 * True when Snowflake's `ALTER COLUMN … SET DATA TYPE` turns `from` into `to`: the same type, a
 * longer VARCHAR, or a NUMBER with more precision and the same scale (Snowflake's documented limits).
 */
export function snowflakeRetypesInPlace(from: string, to: string): boolean {
  if (from === to) return true;
  if (VARCHAR.test(from) && VARCHAR.test(to)) return true;
  const a = NUMBER.exec(from);
  const b = NUMBER.exec(to);
  return a !== null && b !== null && a[2] === b[2] && Number(b[1]) >= Number(a[1]);
}

/**
 * The `evolution` of a Snowflake table (policy in `schema-evolution.ts`): ALTERs guarded by the
 * table's columns as read first; then
 * - a retype Snowflake cannot do in place (see {@link snowflakeRetypesInPlace}) rebuilds the column:
 *   `ADD COLUMN c__ds_retype T`, `UPDATE … SET c__ds_retype = CAST(c AS T)`, `DROP COLUMN c`,
 *   `RENAME COLUMN c__ds_retype TO c` (the column moves to the end; rows are matched by name).
 *   Each step is guarded by the columns present, so a repeat after a crash half-way completes it;
 * - the table's primary key metadata follows the source's key (`DROP PRIMARY KEY`, `ADD PRIMARY
 *   KEY (…)`, read back with `SHOW PRIMARY KEYS`): Snowflake records but does not enforce it, and
 *   the MERGE of later batches matches rows by the new key already (it is built from each batch's
 *   schema). No data moves.
 */
export async function evolveSnowflakeTable(client: SnowflakeClient, d: SqlDialect, options: WarehouseOptions, input: EvolveTable): Promise<void> {
  const columns = async () => new Set((await client.execute(d.listColumns(input.table))).map((r) => String(r.column_name)));
  const existing = await columns();
  if (existing.size === 0) return;
  const t = qualified(d, input.table);
  const rebuilt = new Map<string, string>();
  const after = input.layout;
  for (const c of input.change.changes) {
    if (c.kind !== 'retype_column' || !after || !input.change.after) continue;
    const to = after.columns.find((x) => x.name === c.column.name)?.ddlType;
    const from = layoutTypeOf(input.change.after, c.from, input, options);
    if (to !== undefined && !snowflakeRetypesInPlace(from, to)) rebuilt.set(c.column.name, to);
  }
  for (const sql of evolutionStatements(d, snowflakeAlterSyntax, { ...input, existing, retypeInPlace: (c) => !rebuilt.has(c) })) await client.execute(sql);
  if (!after) return; // a dropped source table: its table is kept as it is
  const key = after.constraintKey;
  let current = await snowflakePrimaryKey(client, d, input.table);
  const touchesKey = [...rebuilt.keys()].some((c) => current.includes(c));
  if (current.length > 0 && (touchesKey || current.join('\u0000') !== key.join('\u0000'))) {
    await client.execute(`ALTER TABLE ${t} DROP PRIMARY KEY`);
    current = [];
  }
  for (const [name, type] of rebuilt) {
    const tmp = `${name}${RETYPE_SUFFIX}`;
    const now = await columns();
    if (now.has(name)) {
      if (!now.has(tmp)) await client.execute(`ALTER TABLE ${t} ADD COLUMN ${q(tmp)} ${type}`);
      await client.execute(`UPDATE ${t} SET ${q(tmp)} = CAST(${q(name)} AS ${type})`);
      await client.execute(`ALTER TABLE ${t} DROP COLUMN ${q(name)}`);
    }
    if (now.has(name) || now.has(tmp)) await client.execute(`ALTER TABLE ${t} RENAME COLUMN ${q(tmp)} TO ${q(name)}`);
  }
  if (key.length > 0 && current.join('\u0000') !== key.join('\u0000')) await client.execute(`ALTER TABLE ${t} ADD PRIMARY KEY (${key.map(q).join(', ')})`);
}

/** The table's recorded primary key columns in key order (`SHOW PRIMARY KEYS`: `column_name`, `key_sequence`). */
export async function snowflakePrimaryKey(client: SnowflakeClient, d: SqlDialect, table: QualifiedName): Promise<string[]> {
  const rows = await client.execute(d.listPrimaryKey(table));
  return rows
    .map((r) => ({ name: String(r.column_name), seq: Number(r.key_sequence ?? 0) }))
    .sort((a, b) => a.seq - b.seq)
    .map((r) => r.name);
}

/** The Snowflake type a column of the table's old shape had (same options and type mappings). */
function layoutTypeOf(schema: TableSchema, column: TableSchema['columns'][number], input: EvolveTable, options: WarehouseOptions): string {
  return tableLayout({ ...schema, columns: [column], primaryKey: [] }, input.table, options, snowflakeTypes).columns[0]!.ddlType;
}
