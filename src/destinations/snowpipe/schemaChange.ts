import { tableKey } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { SchemaChange } from '../../core/schemaChange';
import { qualified, type SqlDialect } from '../sql/dialect';
import { tableLayout, targetName } from '../sql/layout';
import type { SnowflakeClient } from '../snowflake/client';
import { snowflakeTypes } from '../snowflake/dialect';
import { snowflakePrimaryKey } from '../snowflake/evolve';
import type { SnowpipeConfig } from './config';

/**
 * Snowpipe does not alter tables: its files carry each batch's shape and `COPY … MATCH_BY_COLUMN_NAME`
 * loads the columns the target has. So a schema change is accepted when nothing is lost by it:
 * - without `copy_on_write` (files only; the pipe's COPY belongs to the user), and for dropped
 *   columns and new or dropped tables (a dropped column loads as NULL);
 * - when the COPY target does not exist yet (created with the new shape), or already has every
 *   column of the new shape (someone added them by hand), and a retyped column keeps its Snowflake type.
 * Otherwise it is refused (`never`) with the reason and the fix: alter the target by hand, then
 * `ddl apply` the event again; or reject it. The event fails and only its table stops.
 */
export async function checkSnowpipeSchemaChange(
  client: SnowflakeClient,
  dialect: SqlDialect,
  config: SnowpipeConfig,
  name: string,
  change: SchemaChange,
): Promise<void> {
  if (!config.copyOnWrite || !change.after) return;
  const o = config.tableOptions;
  const target = targetName(change.table, o);
  const after = tableLayout(change.after, target, o, snowflakeTypes);
  const existing = new Set((await client.execute(dialect.listColumns(target))).map((r) => String(r.column_name)));
  if (existing.size === 0) return;
  const problems: string[] = [];
  const fixes: string[] = [];
  let keyChanged = false;
  const t = qualified(dialect, target);
  for (const c of change.changes) {
    if (c.kind === 'add_column' || c.kind === 'rename_column') {
      if (existing.has(c.column.name)) continue;
      const type = after.columns.find((x) => x.name === c.column.name)!.ddlType;
      problems.push(c.kind === 'add_column' ? `column ${c.column.name} was added` : `column ${c.from} was renamed to ${c.column.name}`);
      fixes.push(`ALTER TABLE ${t} ADD COLUMN ${dialect.quoteIdent(c.column.name)} ${type}`);
    } else if (c.kind === 'retype_column') {
      const was = tableLayout({ ...change.after, columns: [c.from] }, target, o, snowflakeTypes).columns[0]!.ddlType;
      const now = after.columns.find((x) => x.name === c.column.name)!.ddlType;
      if (was !== now) {
        problems.push(`column ${c.column.name} changed type from ${was} to ${now}`);
        fixes.push(`ALTER TABLE ${t} ALTER COLUMN ${dialect.quoteIdent(c.column.name)} SET DATA TYPE ${now}`);
      }
    } else if (c.kind === 'key_change') {
      const current = await snowflakePrimaryKey(client, dialect, target);
      if (current.join('\u0000') === c.to.join('\u0000')) continue;
      keyChanged = true;
      problems.push(
        `the primary key changed from (${c.from.join(', ')}) to (${c.to.join(', ')}) and ${t} records ${current.length > 0 ? `(${current.join(', ')})` : 'none'}`,
      );
      if (current.length > 0) fixes.push(`ALTER TABLE ${t} DROP PRIMARY KEY`);
      if (c.to.length > 0) fixes.push(`ALTER TABLE ${t} ADD PRIMARY KEY (${c.to.map((k) => dialect.quoteIdent(k)).join(', ')})`);
    }
  }
  if (problems.length === 0) return;
  const why = [
    ...(fixes.some((f) => !/PRIMARY KEY/.test(f)) ? ['Snowpipe loads files as they are, and COPY would leave the new values out'] : []),
    ...(keyChanged
      ? [
          'Snowpipe appends every change as a row, so whatever keeps the latest row per key (views, streams, dynamic tables, tasks over the target) must move to the new key by hand first',
        ]
      : []),
  ];
  throw new DuctError(
    'failed_precondition',
    `snowpipe destination "${name}" does not alter its COPY target ${t} for the schema change of ${tableKey(change.table)} (${problems.join('; ')}): ${why.join('; ')}`,
    {
      retry: 'never',
      hint: `alter the table by hand (${fixes.join('; ')})${keyChanged ? ' once its readers use the new key' : ''}, then \`ductstream-admin ddl apply -id <event>\`; or \`ddl reject\` the change`,
    },
  );
}
